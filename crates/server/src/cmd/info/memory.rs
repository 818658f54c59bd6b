//! INFO memory: allocator figures from jemalloc, the resident set from the kernel, and
//! Redis's derived ratios. Memory of subsystems not built yet (Lua, functions, replication
//! backlog, AOF buffer) is reported as a fresh Redis reports it.

use super::field;
use crate::server::client::ClientType;
use crate::server::memory::{self, bytes_to_human};
use crate::server::Server;

/// What a fresh Redis reports for its (idle) functions engine.
const FUNCTIONS_VM_BYTES: u64 = 33792;
const FUNCTIONS_CACHES_BYTES: u64 = 200;

/// `a / b` as Redis prints ratios (0 when `b` is 0).
fn ratio(a: u64, b: u64) -> String {
    if b == 0 {
        "0.00".to_string()
    } else {
        format!("{:.2}", a as f64 / b as f64)
    }
}

/// `a * 100 / b` with two decimals and a `%`.
fn percent(a: u64, b: u64) -> String {
    if b == 0 {
        "0.00%".to_string()
    } else {
        format!("{:.2}%", a as f64 * 100.0 / b as f64)
    }
}

/// Memory held by clients: (normal and pub/sub clients, replicas).
fn clients_memory(srv: &Server) -> (u64, u64) {
    let (mut normal, mut replicas) = (0, 0);
    for c in srv.clients.snapshot() {
        let bytes = c.memory_bytes() as u64;
        match c.client_type() {
            ClientType::Replica => replicas += bytes,
            _ => normal += bytes,
        }
    }
    (normal, replicas)
}

pub fn memory(srv: &Server, out: &mut String) {
    let alloc = memory::allocator_stats();
    // The figure maxmemory counts (allocated, less jemalloc's per-thread caches of freed
    // blocks), so INFO and eviction agree on what is in use.
    let used = memory::used_memory_bytes();
    let peak = srv.stats.note_memory_used(used);
    let rss = memory::process_rss_bytes();
    let system = memory::total_system_memory_bytes();
    let startup = srv.stats.memory_startup_bytes.min(used);
    let (clients_normal, clients_replicas) = clients_memory(srv);
    let overhead = (startup + clients_normal + clients_replicas).min(used);
    let dataset = used - overhead;
    let cfg = srv.cfg();
    let maxmemory = cfg.maxmemory.max(0) as u64;
    field(out, "used_memory", used);
    field(out, "used_memory_human", bytes_to_human(used));
    field(out, "used_memory_rss", rss);
    field(out, "used_memory_rss_human", bytes_to_human(rss));
    field(out, "used_memory_peak", peak);
    field(out, "used_memory_peak_human", bytes_to_human(peak));
    field(out, "used_memory_peak_perc", percent(used, peak));
    field(out, "used_memory_overhead", overhead);
    field(out, "used_memory_startup", startup);
    field(out, "used_memory_dataset", dataset);
    field(
        out,
        "used_memory_dataset_perc",
        percent(dataset, used - startup),
    );
    field(out, "allocator_allocated", alloc.allocated);
    field(out, "allocator_active", alloc.active);
    field(out, "allocator_resident", alloc.resident);
    field(out, "total_system_memory", system);
    field(out, "total_system_memory_human", bytes_to_human(system));
    scripting_memory(srv, out);
    field(out, "maxmemory", maxmemory);
    field(out, "maxmemory_human", bytes_to_human(maxmemory));
    field(out, "maxmemory_policy", &cfg.maxmemory_policy);
    fragmentation(out, alloc, rss, used);
    field(out, "mem_not_counted_for_evict", 0);
    field(out, "mem_replication_backlog", 0);
    field(out, "mem_total_replication_buffers", 0);
    field(out, "mem_clients_slaves", clients_replicas);
    field(out, "mem_clients_normal", clients_normal);
    field(out, "mem_cluster_links", 0);
    field(out, "mem_aof_buffer", srv.aof.buffered_bytes());
    field(out, "mem_allocator", memory::allocator_name());
    field(out, "active_defrag_running", 0);
    field(out, "lazyfree_pending_objects", 0);
    field(out, "lazyfreed_objects", 0);
}

/// The Lua engine's fields: the VM's heap, the EVAL script cache, the function libraries.
/// One VM serves both EVAL and functions here; its heap is reported as EVAL's and the
/// functions' VM keeps Redis's figure for an empty one.
fn scripting_memory(srv: &Server, out: &mut String) {
    use std::sync::atomic::Ordering::Relaxed;
    let scripting = &srv.scripting;
    let lua_bytes = scripting.lua_memory_bytes.load(Relaxed) as u64;
    let scripts_bytes = scripting.eval_scripts_bytes.load(Relaxed) as u64;
    field(out, "used_memory_lua", lua_bytes);
    field(out, "used_memory_vm_eval", lua_bytes);
    field(out, "used_memory_lua_human", bytes_to_human(lua_bytes));
    field(out, "used_memory_scripts_eval", scripts_bytes);
    field(
        out,
        "number_of_cached_scripts",
        scripting.eval_scripts.load(Relaxed),
    );
    field(
        out,
        "number_of_functions",
        scripting.functions.load(Relaxed),
    );
    field(
        out,
        "number_of_libraries",
        scripting.libraries.load(Relaxed),
    );
    field(out, "used_memory_vm_functions", FUNCTIONS_VM_BYTES);
    let vm_total = lua_bytes + FUNCTIONS_VM_BYTES;
    field(out, "used_memory_vm_total", vm_total);
    field(out, "used_memory_vm_total_human", bytes_to_human(vm_total));
    field(out, "used_memory_functions", FUNCTIONS_CACHES_BYTES);
    let scripts_total = FUNCTIONS_CACHES_BYTES + scripts_bytes;
    field(out, "used_memory_scripts", scripts_total);
    field(
        out,
        "used_memory_scripts_human",
        bytes_to_human(scripts_total),
    );
}

/// Fragmentation at each level: inside the allocator's pages, between its pages and what
/// it keeps resident, and between that and the process's resident set.
fn fragmentation(out: &mut String, alloc: memory::AllocatorStats, rss: u64, used: u64) {
    let diff = |a: u64, b: u64| a as i64 - b as i64;
    field(
        out,
        "allocator_frag_ratio",
        ratio(alloc.active, alloc.allocated),
    );
    field(
        out,
        "allocator_frag_bytes",
        diff(alloc.active, alloc.allocated),
    );
    field(
        out,
        "allocator_rss_ratio",
        ratio(alloc.resident, alloc.active),
    );
    field(
        out,
        "allocator_rss_bytes",
        diff(alloc.resident, alloc.active),
    );
    field(out, "rss_overhead_ratio", ratio(rss, alloc.resident));
    field(out, "rss_overhead_bytes", diff(rss, alloc.resident));
    field(out, "mem_fragmentation_ratio", ratio(rss, used));
    field(out, "mem_fragmentation_bytes", diff(rss, used));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_print_like_redis() {
        assert_eq!(ratio(3, 2), "1.50");
        assert_eq!(ratio(1, 0), "0.00");
        assert_eq!(percent(1, 3), "33.33%");
        assert_eq!(percent(5, 0), "0.00%");
    }
}
