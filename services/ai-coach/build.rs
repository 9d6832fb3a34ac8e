// sqlx::migrate!() embeds migrations/ at compile time but cannot tell cargo about files added
// later: without this, a new migration is silently missing from an incremental build.
//
// prompts/ and rubrics/ hold versioned texts `<name>.v<N>.md`; the newest version of each name
// is embedded (include_str!) through a generated table, so adding a prompt is adding a file.
use std::{collections::BTreeMap, path::Path};

fn table(dir: &str, out: &Path) {
    println!("cargo:rerun-if-changed={dir}");
    let mut newest: BTreeMap<String, (u32, String)> = BTreeMap::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let file = e.file_name().to_string_lossy().into_owned();
            let Some(stem) = file.strip_suffix(".md") else {
                continue;
            };
            // Other files (a README) are not prompts.
            let Some((name, v)) = stem.rsplit_once(".v") else {
                continue;
            };
            let v: u32 = v
                .parse()
                .unwrap_or_else(|_| panic!("{dir}/{file}: version is not a number"));
            if newest.get(name).is_none_or(|(old, _)| *old < v) {
                newest.insert(name.to_owned(), (v, file.clone()));
            }
        }
    }
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR");
    let mut code = String::from("&[\n");
    for (name, (v, file)) in &newest {
        code.push_str(&format!(
            "    ({name:?}, \"{name}.v{v}\", include_str!({:?})),\n",
            format!("{manifest}/{dir}/{file}")
        ));
    }
    code.push_str("]\n");
    std::fs::write(out.join(format!("{dir}.rs")), code).expect("write the table");
}

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    let out = std::env::var("OUT_DIR").expect("OUT_DIR");
    table("prompts", Path::new(&out));
    table("rubrics", Path::new(&out));
}
