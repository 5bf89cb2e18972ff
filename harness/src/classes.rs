//! Class-order pitfalls: class names that are numbers, sorted as text.
//!
//! An ImageFolder dataset's classes are its folder names in sorted (byte) order, as
//! torchvision's `ImageFolder` does, so folders `0` … `10` become the classes
//! `0, 1, 10, 2, 3, …`: label 2 is the folder `10`. A set made elsewhere whose labels follow
//! the numbers (label 2 = folder `2`) then means other classes, and nothing fails: the student
//! simply learns a permuted task. A leaf module: used by `crate::dataset` (a warning when such
//! a dataset is loaded) and `crate::import` (the warning when an imported set carries no
//! `class_names` to check its labels against).

/// When every class name is an integer and their order as text (label order) differs from
/// their numeric order: the first label whose name is not the number it would be read as,
/// e.g. `Some((2, "10"))` for `0, 1, 10, 2, …`. `None` otherwise (names that are not all
/// integers, or that sort alike both ways, such as `0` … `9`).
pub fn numeric_names_out_of_order(class_names: &[String]) -> Option<(usize, &str)> {
    let nums: Vec<i128> = class_names
        .iter()
        .map(|n| n.trim().parse::<i128>().ok())
        .collect::<Option<_>>()?;
    let mut sorted = nums.clone();
    sorted.sort_unstable();
    let i = (0..nums.len()).find(|&i| nums[i] != sorted[i])?;
    Some((i, class_names[i].as_str()))
}

/// The warning for a dataset whose numeric class names sort differently as text and as
/// numbers (see [`numeric_names_out_of_order`]); `None` when they do not. `dataset` names it.
pub fn numeric_order_warning(dataset: &str, class_names: &[String]) -> Option<String> {
    let (label, name) = numeric_names_out_of_order(class_names)?;
    Some(format!(
        "dataset `{dataset}`: its class names are numbers, in text order ({}): label {label} is class \"{name}\", not \"{label}\". Sets made elsewhere must use this order (give them `class_names` to have it checked); a set labelled in numeric order would mean other classes",
        preview(class_names)
    ))
}

/// The first names, comma-separated, with `…` when there are more than 12.
pub fn preview(class_names: &[String]) -> String {
    let mut s = class_names
        .iter()
        .take(12)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if class_names.len() > 12 {
        s.push_str(", …");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn numbers_sorted_as_text_are_caught() {
        let mut eleven: Vec<String> = (0..=10).map(|i| i.to_string()).collect();
        eleven.sort(); // what a directory listing sorted by name gives
        assert_eq!(&eleven[..4], ["0", "1", "10", "2"]);
        assert_eq!(numeric_names_out_of_order(&eleven), Some((2, "10")));
        let w = numeric_order_warning("digits11", &eleven).unwrap();
        assert!(
            w.starts_with("dataset `digits11`: its class names are numbers, in text order (0, 1, 10, 2, 3, 4, 5, 6, 7, 8, 9): label 2 is class \"10\", not \"2\""),
            "{w}"
        );
        let ten: Vec<String> = (0..10).map(|i| i.to_string()).collect();
        assert_eq!(numeric_names_out_of_order(&ten), None, "0..9 sort alike");
        assert_eq!(numeric_names_out_of_order(&names(&["cat", "dog"])), None);
        assert_eq!(
            numeric_names_out_of_order(&names(&["001", "002", "010"])),
            None,
            "zero-padded numbers sort alike"
        );
        assert_eq!(numeric_names_out_of_order(&names(&["1", "10", "x"])), None);
    }
}
