//! SVG figures (plotters, SVG backend, no system fonts needed): accuracy vs budget with 95 %
//! interval bars, accuracy vs total storage (log x) with the Pareto frontier, and label gain
//! (only when soft-label results exist). Each function returns `None` when there is nothing
//! to draw.

use super::fmt::{budget_header, human_bytes};
use super::model::Report;
use plotters::prelude::*;

/// (budget position, mean accuracy %, 95% interval in %).
type BudgetPoint = (f64, f64, Option<(f64, f64)>);

const SIZE: (u32, u32) = (900, 560);

fn colour(i: usize) -> RGBColor {
    // Okabe–Ito, colour-blind safe; then plotters' palette.
    const OI: [(u8, u8, u8); 7] = [
        (0, 114, 178),
        (213, 94, 0),
        (0, 158, 115),
        (204, 121, 167),
        (230, 159, 0),
        (86, 180, 233),
        (240, 228, 66),
    ];
    if i < OI.len() {
        let (r, g, b) = OI[i];
        RGBColor(r, g, b)
    } else {
        let c = Palette99::pick(i).to_rgba();
        RGBColor(c.0, c.1, c.2)
    }
}

fn y_range(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return None;
    }
    let pad = ((hi - lo) * 0.08).max(1.0);
    Some(((lo - pad).max(0.0), (hi + pad).min(100.0)))
}

type DrawResult = Result<(), Box<dyn std::error::Error>>;

/// Accuracy (%) vs budget, one line per method with 95 % t-interval bars; reference methods
/// as horizontal lines. Budgets are categories in table order.
pub fn accuracy_vs_budget_svg(rep: &Report) -> Option<String> {
    let nb = rep.budgets.len();
    let mut vals = Vec::new();
    for c in &rep.cells {
        if let Some(s) = &c.summary {
            vals.push(s.mean * 100.0);
            if let (Some(l), Some(h)) = (s.ci_low, s.ci_high) {
                vals.push(l * 100.0);
                vals.push(h * 100.0);
            }
        }
    }
    let (y0, y1) = y_range(vals.into_iter())?;
    if nb == 0 {
        return None;
    }
    let mut svg = String::new();
    let r: DrawResult = (|| {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!(
                    "{} v{} on {}: accuracy vs budget (mean, 95% CI)",
                    rep.protocol, rep.protocol_version, rep.dataset
                ),
                ("sans-serif", 20),
            )
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d(-0.5f64..(nb as f64 - 0.5), y0..y1)?;
        let fmt = budget_ticks(&rep.budgets);
        chart
            .configure_mesh()
            .x_labels(4 * nb + 1)
            .x_label_formatter(&fmt)
            .disable_x_mesh()
            .x_desc("budget")
            .y_desc("top-1 test accuracy (%)")
            .draw()?;
        for (i, m) in rep.methods.iter().enumerate() {
            let col = colour(i);
            if let Some(c) = rep.reference_cell(m) {
                let Some(s) = &c.summary else { continue };
                let y = s.mean * 100.0;
                chart
                    .draw_series(LineSeries::new(
                        vec![(-0.5, y), (nb as f64 - 0.5, y)],
                        col.stroke_width(1),
                    ))?
                    .label(format!("{m} (reference)"))
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], col));
                continue;
            }
            let pts: Vec<BudgetPoint> = rep
                .budgets
                .iter()
                .enumerate()
                .filter_map(|(j, b)| {
                    let s = rep.cell(m, b)?.summary.as_ref()?;
                    Some((
                        j as f64,
                        s.mean * 100.0,
                        s.ci_low.zip(s.ci_high).map(|(l, h)| (l * 100.0, h * 100.0)),
                    ))
                })
                .collect();
            if pts.is_empty() {
                continue;
            }
            chart
                .draw_series(LineSeries::new(
                    pts.iter().map(|p| (p.0, p.1)),
                    col.stroke_width(2),
                ))?
                .label(m.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], col.stroke_width(2))
                });
            chart.draw_series(pts.iter().map(|p| Circle::new((p.0, p.1), 4, col.filled())))?;
            chart.draw_series(pts.iter().filter_map(|p| {
                p.2.map(|(l, h)| ErrorBar::new_vertical(p.0, l, p.1, h, col.stroke_width(1), 10))
            }))?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
        Ok(())
    })();
    r.ok().map(|_| svg)
}

/// Accuracy (%) vs mean total bytes (log x), one colour per method, with the Pareto frontier
/// of the whole table drawn as a black step-free polyline through its members.
pub fn accuracy_vs_storage_svg(rep: &Report) -> Option<String> {
    let pts: Vec<(usize, f64, f64, bool)> = rep
        .methods
        .iter()
        .enumerate()
        .flat_map(|(i, m)| {
            rep.cells
                .iter()
                .filter(move |c| &c.method == m)
                .filter_map(move |c| Some((i, c.mean_total_bytes?, c.mean()? * 100.0, c.pareto)))
        })
        .filter(|p| p.1 > 0.0)
        .collect();
    if pts.is_empty() {
        return None;
    }
    let (y0, y1) = y_range(pts.iter().map(|p| p.2))?;
    let xmin = pts.iter().map(|p| p.1).fold(f64::INFINITY, f64::min) / 2.0;
    let xmax = pts.iter().map(|p| p.1).fold(0.0, f64::max) * 2.0;
    let mut svg = String::new();
    let r: DrawResult = (|| {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!(
                    "{} v{} on {}: accuracy vs storage (images + labels)",
                    rep.protocol, rep.protocol_version, rep.dataset
                ),
                ("sans-serif", 20),
            )
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d((xmin..xmax).log_scale(), y0..y1)?;
        chart
            .configure_mesh()
            .x_label_formatter(&|x| human_bytes(*x))
            .x_desc("total bytes (log scale)")
            .y_desc("top-1 test accuracy (%)")
            .draw()?;
        let frontier: Vec<(f64, f64)> = rep
            .pareto
            .iter()
            .map(|p| (p.mean_total_bytes, p.mean_accuracy * 100.0))
            .collect();
        if !frontier.is_empty() {
            chart
                .draw_series(LineSeries::new(frontier, BLACK.stroke_width(1)))?
                .label("Pareto frontier")
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK));
        }
        for (i, m) in rep.methods.iter().enumerate() {
            let col = colour(i);
            let mine: Vec<&(usize, f64, f64, bool)> = pts.iter().filter(|p| p.0 == i).collect();
            if mine.is_empty() {
                continue;
            }
            chart
                .draw_series(
                    mine.iter()
                        .map(|p| Circle::new((p.1, p.2), 5, col.filled())),
                )?
                .label(m.clone())
                .legend(move |(x, y)| Circle::new((x + 10, y), 5, col.filled()));
            // Frontier members get a black ring.
            chart.draw_series(
                mine.iter()
                    .filter(|p| p.3)
                    .map(|p| Circle::new((p.1, p.2), 8, BLACK.stroke_width(1))),
            )?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
        Ok(())
    })();
    r.ok().map(|_| svg)
}

/// Tick labels of a categorical budget axis: budget `i` sits at x = i; other ticks are blank.
fn budget_ticks(budgets: &[String]) -> impl Fn(&f64) -> String {
    let budgets = budgets.to_vec();
    move |x: &f64| {
        let i = x.round();
        if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < budgets.len() {
            budget_header(&budgets[i as usize])
        } else {
            String::new()
        }
    }
}

/// Label gain (soft − hard, points) vs budget per method. `None` until a soft-label protocol
/// exists and [`Report::label_gain`] is filled (see [`super::model::LabelGain`]).
pub fn label_gain_svg(rep: &Report) -> Option<String> {
    let gains = rep.label_gain.as_ref().filter(|g| !g.is_empty())?;
    let nb = rep.budgets.len();
    let vals: Vec<f64> = gains.iter().map(|g| g.gain * 100.0).collect();
    let lo = vals.iter().copied().fold(0.0, f64::min) - 1.0;
    let hi = vals.iter().copied().fold(0.0, f64::max) + 1.0;
    let mut svg = String::new();
    let r: DrawResult = (|| {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("label gain (soft − hard)", ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d(-0.5f64..(nb as f64 - 0.5), lo..hi)?;
        let fmt = budget_ticks(&rep.budgets);
        chart
            .configure_mesh()
            .x_labels(4 * nb + 1)
            .x_label_formatter(&fmt)
            .y_desc("label gain (points)")
            .draw()?;
        for (i, m) in rep.methods.iter().enumerate() {
            let col = colour(i);
            let pts: Vec<(f64, f64)> = rep
                .budgets
                .iter()
                .enumerate()
                .filter_map(|(j, b)| {
                    gains
                        .iter()
                        .find(|g| &g.method == m && &g.budget == b)
                        .map(|g| (j as f64, g.gain * 100.0))
                })
                .collect();
            if pts.is_empty() {
                continue;
            }
            chart
                .draw_series(LineSeries::new(pts, col.stroke_width(2)))?
                .label(m.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], col));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
        Ok(())
    })();
    r.ok().map(|_| svg)
}
