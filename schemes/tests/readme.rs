//! The README's scheme table is the registry's: adding a scheme without
//! its row, or changing a row by hand, fails here.

#[test]
fn readme_scheme_table_is_the_registrys() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md beside the workspace");
    let table = pin_schemes::schemes::markdown_table();
    assert!(
        readme.contains(&table),
        "README.md's scheme table differs from the registry; it should read:\n{table}"
    );
}
