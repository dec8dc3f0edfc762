//! Writes a small instance of the compile-cost workload (2 sets × 10 metrics, declared
//! three ways by `src/compile_cost.rs`) into `OUT_DIR`, for `tests/compile_cost.rs`.

// The generator is shared with the library, which uses all of it.
#[allow(unreachable_pub, dead_code)]
#[path = "src/compile_cost.rs"]
mod compile_cost;

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo::rerun-if-changed=src/compile_cost.rs");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);
    for approach in compile_cost::Approach::ALL {
        let name = approach.package().replace('-', "_");
        std::fs::write(
            out.join(format!("{name}.rs")),
            compile_cost::source(approach, 2),
        )?;
    }
    Ok(())
}
