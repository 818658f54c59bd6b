//! `rudis-server [configfile] [--directive value ...]`: see [`rudis_server::run`].

#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    std::process::exit(rudis_server::run(&args));
}
