//! Builds the small C helpers the server links: long double arithmetic for INCRBYFLOAT,
//! which Rust cannot express (see csrc/longdouble.c).

fn main() {
    println!("cargo:rerun-if-changed=csrc/longdouble.c");
    cc::Build::new()
        .file("csrc/longdouble.c")
        .flag_if_supported("-std=c99")
        .warnings(true)
        .extra_warnings(true)
        .compile("rudis_longdouble");
}
