//! Embeds the built-in `sql/` files (views, detections) in the binary, so
//! `huntlake` serves the same views wherever it is run from.

use std::fmt::Write;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=sql");
    // Read at run time: env!() would bake in the path of whichever checkout
    // first compiled this build script into a shared target folder.
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let root = Path::new(&manifest_dir).join("sql");
    let mut files = Vec::new();
    for folder in ["views", "detections"] {
        let dir = root.join(folder);
        println!("cargo:rerun-if-changed={}", dir.display());
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries {
            let path = entry.expect("readable sql folder").path();
            if path.extension().is_some_and(|e| e == "sql") {
                let name = format!("{folder}/{}", path.file_name().unwrap().to_string_lossy());
                files.push((name, path));
            }
        }
    }
    files.sort();
    let mut out = String::from("/// Built-in SQL files: (path below `sql/`, contents).\npub const BUILTIN_SQL: &[(&str, &str)] = &[\n");
    for (name, path) in files {
        writeln!(out, "    ({name:?}, include_str!({:?})),", path.display().to_string()).unwrap();
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap()).join("builtin_sql.rs");
    std::fs::write(dest, out).expect("write builtin_sql.rs");
}
