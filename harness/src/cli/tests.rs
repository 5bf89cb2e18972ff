//! The `--help` text of `bench` and of every subcommand, rendered from the clap `Command`,
//! against the snapshots taken before the command layer moved out of `main.rs`
//! (`snapshots/`; wrapping is off, so the terminal width does not matter).

use super::Cli;
use clap::CommandFactory;

/// The long help of `bench <path…>` (empty path: `bench` itself).
fn help(path: &[&str]) -> String {
    let mut cmd = Cli::command().term_width(100);
    cmd.build();
    let mut c = &mut cmd;
    for name in path {
        c = c
            .find_subcommand_mut(name)
            .unwrap_or_else(|| panic!("no subcommand {name}"));
    }
    c.render_long_help().to_string()
}

fn check(name: &str, path: &[&str]) {
    insta::with_settings!({
        snapshot_path => "snapshots",
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!(name, help(path));
    });
}

#[test]
fn help_texts_are_unchanged() {
    check("help_bench", &[]);
    check("help_env", &["env"]);
    check("help_list", &["list"]);
    check("help_report", &["report"]);
    check("help_compare", &["compare"]);
    check("help_plugin", &["plugin"]);
    check("help_plugin_check", &["plugin", "check"]);
    check("help_export", &["export"]);
    check("help_teacher", &["teacher"]);
    check("help_new_plugin", &["new-plugin"]);
    check("help_status", &["status"]);
    check("help_reproduce", &["reproduce"]);
}

#[test]
fn the_command_line_is_consistent() {
    Cli::command().debug_assert();
}
