//! The kernel's own view of its memory hardening: the "mem auto-init" line it printed at
//! boot, which slab caches are poisoned or red-zoned, and its largest slab caches.

use kbench_protocol::{KernelView, MemAutoInit, SlabCache};
use std::fs;
use std::path::Path;

const SLAB_DIR: &str = "/sys/kernel/slab";
const LARGEST: usize = 10;

/// `mem auto-init: stack:all(zero), heap alloc:on, heap free:off` (a /dev/kmsg record
/// prefix or a dmesg timestamp before it is fine).
pub fn parse_mem_auto_init(log: &str) -> Option<MemAutoInit> {
    // Other lines share the prefix ("mem auto-init: clearing system memory may take some
    // time...", "mem auto-init: CONFIG_PAGE_POISONING is on, ..."): the one with the parts.
    let line =
        log.lines().filter_map(|l| l.split_once("mem auto-init:").map(|(_, rest)| rest)).find(|rest| rest.contains("heap alloc:"))?;
    let mut init = MemAutoInit::default();
    for part in line.split(',') {
        let Some((key, value)) = part.trim().split_once(':') else { continue };
        let value = value.trim().to_string();
        match key.trim() {
            "stack" => init.stack = value,
            "heap alloc" => init.heap_alloc = value,
            "heap free" => init.heap_free = value,
            _ => {}
        }
    }
    Some(init)
}

/// One cache's files under /sys/kernel/slab/<cache>/, as text.
#[derive(Debug, Clone, Default)]
pub struct CacheFiles {
    pub name: String,
    pub poison: Option<String>,
    pub red_zone: Option<String>,
    pub slab_size: Option<String>,
    pub slabs: Option<String>,
    pub objects: Option<String>,
    pub object_size: Option<String>,
}

/// The first number of a sysfs value ("1234 N0=1234" for per-node counts).
fn number(text: &Option<String>) -> u64 {
    text.as_deref().and_then(|t| t.split_whitespace().next()?.parse().ok()).unwrap_or(0)
}

/// Counts and the ten largest caches, from each cache's files.
pub fn view_of(caches: &[CacheFiles], mem_auto_init: Option<MemAutoInit>) -> KernelView {
    let flag = |t: &Option<String>| t.as_deref().map(str::trim) == Some("1");
    let mut sized: Vec<SlabCache> = caches
        .iter()
        .map(|c| SlabCache {
            name: c.name.clone(),
            memory_kib: number(&c.slabs) * number(&c.slab_size) / 1024,
            objects: number(&c.objects),
            object_size: number(&c.object_size),
        })
        .collect();
    sized.sort_by(|a, b| b.memory_kib.cmp(&a.memory_kib).then_with(|| a.name.cmp(&b.name)));
    sized.truncate(LARGEST);
    KernelView {
        mem_auto_init,
        caches: caches.len() as u32,
        poisoned: caches.iter().filter(|c| flag(&c.poison)).count() as u32,
        red_zoned: caches.iter().filter(|c| flag(&c.red_zone)).count() as u32,
        largest_caches: sized,
    }
}

/// Every cache under /sys/kernel/slab. Merged caches appear as symlinks to one
/// directory (`:0000064` names): each real directory is counted once.
fn read_caches() -> Vec<CacheFiles> {
    let Ok(entries) = fs::read_dir(SLAB_DIR) else { return Vec::new() };
    let read = |dir: &Path, file: &str| fs::read_to_string(dir.join(file)).ok();
    let mut caches = Vec::new();
    for entry in entries.flatten() {
        if entry.file_type().map(|t| t.is_symlink()).unwrap_or(true) {
            continue;
        }
        let dir = entry.path();
        caches.push(CacheFiles {
            name: entry.file_name().to_string_lossy().into_owned(),
            poison: read(&dir, "poison"),
            red_zone: read(&dir, "red_zone"),
            slab_size: read(&dir, "slab_size"),
            slabs: read(&dir, "slabs"),
            objects: read(&dir, "objects"),
            object_size: read(&dir, "object_size"),
        });
    }
    caches
}

/// The view now, with the "mem auto-init" line read at boot.
pub fn now(mem_auto_init: Option<MemAutoInit>) -> KernelView {
    view_of(&read_caches(), mem_auto_init)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mem_auto_init_line_is_split_into_its_parts() {
        let dmesg = "[    0.000000] Linux version 6.1.0-27-amd64\n\
                     [    0.1] mem auto-init: CONFIG_PAGE_POISONING is on, will take precedence over init_on_alloc and init_on_free\n\
                     [    0.104512] mem auto-init: stack:all(zero), heap alloc:on, heap free:off\n\
                     [    0.2] Memory: 1990000K/2096696K available";
        let init = parse_mem_auto_init(dmesg).unwrap();
        assert_eq!(init, MemAutoInit { stack: "all(zero)".into(), heap_alloc: "on".into(), heap_free: "off".into() });
        assert!(init.heap_alloc_on() && !init.heap_free_on());
        let kmsg_text =
            "mem auto-init: stack:off, heap alloc:off, heap free:on\nmem auto-init: clearing system memory may take some time...";
        let init = parse_mem_auto_init(kmsg_text).unwrap();
        assert_eq!((init.stack.as_str(), init.heap_alloc_on(), init.heap_free_on()), ("off", false, true));
        assert_eq!(parse_mem_auto_init("Linux version 6.1\nno such line"), None);
    }

    fn cache(name: &str, poison: &str, red_zone: &str, slabs: u64, slab_size: u64) -> CacheFiles {
        CacheFiles {
            name: name.into(),
            poison: Some(format!("{poison}\n")),
            red_zone: Some(format!("{red_zone}\n")),
            slab_size: Some(format!("{slab_size}\n")),
            slabs: Some(format!("{slabs} N0={slabs}\n")),
            objects: Some(format!("{} N0=1\n", slabs * 10)),
            object_size: Some("64\n".into()),
        }
    }

    #[test]
    fn caches_are_counted_and_the_largest_ranked_by_memory() {
        let mut caches: Vec<CacheFiles> = (0..12).map(|i| cache(&format!("c{i:02}"), "0", "0", i, 8192)).collect();
        caches.push(cache("kmalloc-64", "1", "1", 100, 4096));
        caches.push(cache("dentry", "1", "0", 3, 4096));
        caches.push(CacheFiles { name: "odd".into(), ..Default::default() });
        let view = view_of(&caches, None);
        assert_eq!((view.caches, view.poisoned, view.red_zoned), (15, 2, 1));
        assert_eq!(view.largest_caches.len(), 10);
        assert_eq!(view.largest_caches[0].name, "kmalloc-64");
        assert_eq!(view.largest_caches[0].memory_kib, 400);
        assert_eq!(view.largest_caches[0].objects, 1000);
        assert_eq!(view.largest_caches[1].name, "c11");
        assert_eq!(view.largest_caches[1].memory_kib, 88);
    }
}
