//! Machine topology from sysfs, and where the shards land on it.
//!
//! For each online CPU: its NUMA node, physical package (socket), core and
//! SMT siblings, read from the kernel's sysfs (see the kernel's
//! `Documentation/admin-guide/cputopology.rst`):
//! - `/sys/devices/system/cpu/cpuN/topology/{physical_package_id,core_id,thread_siblings_list}`
//! - `/sys/devices/system/node/nodeN/cpulist`
//!
//! Missing files degrade, they do not fail: a machine without NUMA nodes in
//! sysfs is one node 0, an unknown package is 0, an unknown core id makes the
//! CPU its own core, unknown siblings are empty.
//!
//! # Threading
//! Control plane only: [`Topology::read`] does blocking file I/O. Call it at
//! start-up, never from a shard.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use super::cores::{format_list, read_sys_list, CoreSet};

/// The sysfs mount point that [`Topology::read`] reads under.
const SYS: &str = "/sys";

/// The online CPUs of the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// Sorted by `id` when read from sysfs.
    pub cpus: Vec<Cpu>,
}

/// One logical CPU (hardware thread).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cpu {
    /// The id the kernel and `taskset` use.
    pub id: usize,
    /// NUMA node; 0 if unknown.
    pub node: usize,
    /// `physical_package_id` (the socket); 0 if unknown.
    pub package: usize,
    /// `core_id`, unique within the package; `id` if unknown.
    pub core: usize,
    /// `thread_siblings_list`: the CPUs sharing this physical core, this one
    /// included, sorted; empty if unknown.
    pub siblings: Vec<usize>,
}

impl Topology {
    /// Reads the topology of every online CPU from sysfs. Fails only when
    /// the online CPUs cannot be determined at all.
    pub fn read() -> Result<Topology, String> {
        let online = CoreSet::online_cpus().map_err(|e| e.to_string())?;
        Ok(Self::read_from(Path::new(SYS), &online))
    }

    /// Reads the topology of `online` from a sysfs tree rooted at `sys`
    /// (separate from [`Topology::read`] so tests can use a fake tree).
    fn read_from(sys: &Path, online: &[usize]) -> Topology {
        let nodes = read_nodes(&sys.join("devices/system/node"));
        let mut cpus: Vec<Cpu> = online
            .iter()
            .map(|&id| {
                let dir = sys.join(format!("devices/system/cpu/cpu{id}/topology"));
                Cpu {
                    id,
                    node: nodes.get(&id).copied().unwrap_or(0),
                    package: read_id(&dir.join("physical_package_id")).unwrap_or(0),
                    core: read_id(&dir.join("core_id")).unwrap_or(id),
                    siblings: read_sys_list(dir.join("thread_siblings_list")).unwrap_or_default(),
                }
            })
            .collect();
        cpus.sort_by_key(|c| c.id);
        cpus.dedup_by_key(|c| c.id);
        Topology { cpus }
    }

    /// The NUMA nodes and their CPUs, both sorted.
    pub fn nodes(&self) -> Vec<(usize, Vec<usize>)> {
        let mut nodes: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for cpu in &self.cpus {
            nodes.entry(cpu.node).or_default().push(cpu.id);
        }
        nodes
            .into_iter()
            .map(|(node, mut cpus)| {
                cpus.sort_unstable();
                cpus.dedup();
                (node, cpus)
            })
            .collect()
    }

    fn cpu(&self, id: usize) -> Option<&Cpu> {
        self.cpus.iter().find(|c| c.id == id)
    }
}

/// Maps each CPU to its NUMA node from `nodeN/cpulist` under `dir`; empty if
/// the directory is missing.
fn read_nodes(dir: &Path) -> BTreeMap<usize, usize> {
    let mut map = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return map;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(node) = name
            .to_str()
            .and_then(|n| n.strip_prefix("node"))
            .and_then(|n| n.parse::<usize>().ok())
        else {
            continue;
        };
        for cpu in read_sys_list(entry.path().join("cpulist")).unwrap_or_default() {
            map.insert(cpu, node);
        }
    }
    map
}

/// A non-negative integer file; `None` if missing, malformed or negative
/// (some platforms report `-1` for an unknown package).
fn read_id(path: &Path) -> Option<usize> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Renders the CPU table and, given a core set, where each shard and the
/// router run.
///
/// ```text
/// topology: 2 cpus, 2 physical cores, 1 package, 1 numa node
/// cpu  node  package  core  smt siblings
///   0     0        0     0  0
///   1     0        0     1  1
///
/// placement: 2 shards on cpus 0-1
///   shard 0 -> cpu 0 (node 0)
///   shard 1 -> cpu 1 (node 0)
///   router -> unpinned (OS scheduled)
/// ```
pub fn render(topology: &Topology, cores: Option<&CoreSet>) -> String {
    let mut out = String::new();
    let cpus = &topology.cpus;
    let physical: BTreeSet<(usize, usize)> = cpus.iter().map(|c| (c.package, c.core)).collect();
    let packages: BTreeSet<usize> = cpus.iter().map(|c| c.package).collect();
    let nodes = topology.nodes();
    let _ = writeln!(
        out,
        "topology: {}, {}, {}, {}",
        plural(cpus.len(), "cpu"),
        plural(physical.len(), "physical core"),
        plural(packages.len(), "package"),
        plural(nodes.len(), "numa node"),
    );

    let headers = ["cpu", "node", "package", "core", "smt siblings"];
    let rows: Vec<[String; 5]> = cpus
        .iter()
        .map(|c| {
            let siblings = if c.siblings.is_empty() {
                "-".to_string()
            } else {
                format_list(&c.siblings)
            };
            [
                c.id.to_string(),
                c.node.to_string(),
                c.package.to_string(),
                c.core.to_string(),
                siblings,
            ]
        })
        .collect();
    let width = |col: usize| {
        rows.iter()
            .map(|r| r[col].len())
            .chain([headers[col].len()])
            .max()
            .unwrap_or(0)
    };
    let widths = [width(0), width(1), width(2), width(3)];
    let line = |cells: [&str; 5]| {
        // Numbers right-aligned; the last column is free text, left-aligned.
        let mut s = String::new();
        for (col, w) in widths.iter().enumerate() {
            let _ = write!(s, "{:>w$}  ", cells[col]);
        }
        s.push_str(cells[4]);
        s
    };
    let _ = writeln!(out, "{}", line(headers));
    for r in &rows {
        let _ = writeln!(out, "{}", line([&r[0], &r[1], &r[2], &r[3], &r[4]]));
    }

    let Some(set) = cores else {
        return out;
    };
    let _ = writeln!(
        out,
        "\nplacement: {} on cpus {set}",
        plural(set.len(), "shard")
    );
    for (shard, &id) in set.cores().iter().enumerate() {
        match topology.cpu(id) {
            Some(cpu) => {
                let _ = writeln!(out, "  shard {shard} -> cpu {id} (node {})", cpu.node);
            }
            None => {
                let _ = writeln!(out, "  shard {shard} -> cpu {id} (not in the topology)");
            }
        }
    }
    let _ = writeln!(out, "  {}", router_placement(set));

    // Placement warnings: shards sharing a physical core compete for its
    // execution units; shards on several nodes pay for remote memory.
    for (i, &a) in set.cores().iter().enumerate() {
        let Some(cpu) = topology.cpu(a) else { continue };
        for (j, &b) in set.cores().iter().enumerate().skip(i + 1) {
            if cpu.siblings.contains(&b) {
                let _ = writeln!(
                    out,
                    "note: shards {i} and {j} share a physical core (cpus {a} and {b} are SMT siblings)"
                );
            }
        }
    }
    let shard_nodes: BTreeSet<usize> = set
        .cores()
        .iter()
        .filter_map(|&id| topology.cpu(id).map(|c| c.node))
        .collect();
    if shard_nodes.len() > 1 {
        let list: Vec<usize> = shard_nodes.into_iter().collect();
        let _ = writeln!(
            out,
            "note: the shards span numa nodes {}",
            format_list(&list)
        );
    }
    out
}

/// Where the ingest router thread runs. It is not pinned: the OS places it.
pub fn router_placement(_cores: &CoreSet) -> String {
    "router -> unpinned (OS scheduled)".to_string()
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("{n} {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpu(id: usize, node: usize, package: usize, core: usize, siblings: &[usize]) -> Cpu {
        Cpu {
            id,
            node,
            package,
            core,
            siblings: siblings.to_vec(),
        }
    }

    /// Two sockets, one NUMA node each, two cores per socket, two threads
    /// per core; thread siblings are numbered apart, as on most x86 boxes.
    fn two_sockets() -> Topology {
        Topology {
            cpus: vec![
                cpu(0, 0, 0, 0, &[0, 4]),
                cpu(1, 0, 0, 1, &[1, 5]),
                cpu(2, 1, 1, 0, &[2, 6]),
                cpu(3, 1, 1, 1, &[3, 7]),
                cpu(4, 0, 0, 0, &[0, 4]),
                cpu(5, 0, 0, 1, &[1, 5]),
                cpu(6, 1, 1, 0, &[2, 6]),
                cpu(7, 1, 1, 1, &[3, 7]),
            ],
        }
    }

    #[test]
    fn render_table_only() {
        let expected = "\
topology: 8 cpus, 4 physical cores, 2 packages, 2 numa nodes
cpu  node  package  core  smt siblings
  0     0        0     0  0,4
  1     0        0     1  1,5
  2     1        1     0  2,6
  3     1        1     1  3,7
  4     0        0     0  0,4
  5     0        0     1  1,5
  6     1        1     0  2,6
  7     1        1     1  3,7
";
        assert_eq!(render(&two_sockets(), None), expected);
    }

    #[test]
    fn render_placement_one_node() {
        let set = CoreSet::from_list("0-1", &[0, 1, 2, 3, 4, 5, 6, 7]).unwrap();
        let out = render(&two_sockets(), Some(&set));
        let placement = out.split_once("\n\n").unwrap().1;
        assert_eq!(
            placement,
            "\
placement: 2 shards on cpus 0-1
  shard 0 -> cpu 0 (node 0)
  shard 1 -> cpu 1 (node 0)
  router -> unpinned (OS scheduled)
"
        );
    }

    #[test]
    fn render_placement_notes_smt_and_numa() {
        let set = CoreSet::from_list("0,2,4", &[0, 1, 2, 3, 4, 5, 6, 7]).unwrap();
        let out = render(&two_sockets(), Some(&set));
        let placement = out.split_once("\n\n").unwrap().1;
        assert_eq!(
            placement,
            "\
placement: 3 shards on cpus 0,2,4
  shard 0 -> cpu 0 (node 0)
  shard 1 -> cpu 2 (node 1)
  shard 2 -> cpu 4 (node 0)
  router -> unpinned (OS scheduled)
note: shards 0 and 2 share a physical core (cpus 0 and 4 are SMT siblings)
note: the shards span numa nodes 0-1
"
        );
    }

    #[test]
    fn render_unknowns() {
        // A single CPU with no sibling information, and a shard on a CPU the
        // topology does not know.
        let topology = Topology {
            cpus: vec![cpu(12, 0, 0, 12, &[])],
        };
        let set = CoreSet::from_list("9,12", &[9, 12]).unwrap();
        assert_eq!(
            render(&topology, Some(&set)),
            "\
topology: 1 cpu, 1 physical core, 1 package, 1 numa node
cpu  node  package  core  smt siblings
 12     0        0    12  -

placement: 2 shards on cpus 9,12
  shard 0 -> cpu 9 (not in the topology)
  shard 1 -> cpu 12 (node 0)
  router -> unpinned (OS scheduled)
"
        );
    }

    #[test]
    fn router_is_unpinned() {
        let set = CoreSet::from_list("0", &[0]).unwrap();
        assert_eq!(router_placement(&set), "router -> unpinned (OS scheduled)");
    }

    #[test]
    fn nodes_groups_and_sorts() {
        assert_eq!(
            two_sockets().nodes(),
            vec![(0, vec![0, 1, 4, 5]), (1, vec![2, 3, 6, 7])]
        );
        assert_eq!(Topology { cpus: vec![] }.nodes(), vec![]);
    }

    /// A throwaway sysfs tree under the temp directory.
    struct FakeSys(std::path::PathBuf);

    impl FakeSys {
        fn new(name: &str) -> FakeSys {
            let root = std::env::temp_dir()
                .join(format!("corestream-topology-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&root);
            std::fs::create_dir_all(&root).unwrap();
            FakeSys(root)
        }

        fn write(&self, path: &str, text: &str) {
            let path = self.0.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
    }

    impl Drop for FakeSys {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn read_from_full_tree() {
        let sys = FakeSys::new("full");
        for (id, package, core, siblings) in [
            (0, 0, 0, "0,2"),
            (1, 0, 1, "1,3"),
            (2, 0, 0, "0,2"),
            (3, 0, 1, "1,3"),
        ] {
            let dir = format!("devices/system/cpu/cpu{id}/topology");
            sys.write(
                &format!("{dir}/physical_package_id"),
                &format!("{package}\n"),
            );
            sys.write(&format!("{dir}/core_id"), &format!("{core}\n"));
            sys.write(
                &format!("{dir}/thread_siblings_list"),
                &format!("{siblings}\n"),
            );
        }
        sys.write("devices/system/node/node0/cpulist", "0-1\n");
        sys.write("devices/system/node/node1/cpulist", "2-3\n");
        sys.write("devices/system/node/node2/cpulist", "\n"); // memory only
        sys.write("devices/system/node/online", "0-2\n"); // not a node dir
        let topology = Topology::read_from(&sys.0, &[3, 2, 1, 0]);
        assert_eq!(
            topology,
            Topology {
                cpus: vec![
                    cpu(0, 0, 0, 0, &[0, 2]),
                    cpu(1, 0, 0, 1, &[1, 3]),
                    cpu(2, 1, 0, 0, &[0, 2]),
                    cpu(3, 1, 0, 1, &[1, 3]),
                ]
            }
        );
    }

    #[test]
    fn read_from_degrades_gracefully() {
        let sys = FakeSys::new("sparse");
        // cpu0: only a core id; cpu1: a negative package and garbage core id;
        // cpu2: nothing at all. No node directory.
        sys.write("devices/system/cpu/cpu0/topology/core_id", "5\n");
        sys.write(
            "devices/system/cpu/cpu1/topology/physical_package_id",
            "-1\n",
        );
        sys.write("devices/system/cpu/cpu1/topology/core_id", "x\n");
        sys.write(
            "devices/system/cpu/cpu1/topology/thread_siblings_list",
            "1-\n",
        );
        let topology = Topology::read_from(&sys.0, &[0, 1, 2]);
        assert_eq!(
            topology,
            Topology {
                cpus: vec![
                    cpu(0, 0, 0, 5, &[]),
                    cpu(1, 0, 0, 1, &[]),
                    cpu(2, 0, 0, 2, &[])
                ]
            }
        );
        assert_eq!(topology.nodes(), vec![(0, vec![0, 1, 2])]);
    }

    #[test]
    fn read_this_machine() {
        let topology = Topology::read().unwrap();
        assert!(!topology.cpus.is_empty());
        assert!(topology.cpus.windows(2).all(|w| w[0].id < w[1].id));
        let text = render(&topology, None);
        assert!(text.starts_with("topology: "));
        let set = CoreSet::all_online().unwrap();
        let text = render(&topology, Some(&set));
        assert!(text.contains("  shard 0 -> cpu "));
        assert!(!text.contains("not in the topology"));
    }
}
