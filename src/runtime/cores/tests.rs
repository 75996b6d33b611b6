use super::*;

/// A machine with CPUs 0..n online.
fn online(n: usize) -> Vec<usize> {
    (0..n).collect()
}

fn mask(m: &str) -> Result<Vec<usize>, CoreSetError> {
    CoreSet::from_mask(m, &online(256)).map(|s| s.cores().to_vec())
}

fn list(l: &str) -> Result<Vec<usize>, CoreSetError> {
    CoreSet::from_list(l, &online(256)).map(|s| s.cores().to_vec())
}

/// The (position, message) of an error, for golden checks.
fn failure(result: Result<Vec<usize>, CoreSetError>) -> (Option<usize>, String) {
    let e = result.expect_err("expected an error");
    let position = match &e {
        CoreSetError::Unparsable { position, .. } => Some(*position),
        _ => None,
    };
    (position, e.to_string())
}

// ---- masks ----

#[test]
fn mask_single_bits() {
    assert_eq!(mask("0x1").unwrap(), [0]);
    assert_eq!(mask("0x2").unwrap(), [1]);
    assert_eq!(mask("0x8").unwrap(), [3]);
    assert_eq!(mask("0x10").unwrap(), [4]);
}

#[test]
fn mask_multiple_bits() {
    assert_eq!(mask("0x3").unwrap(), [0, 1]);
    assert_eq!(mask("0x3c").unwrap(), [2, 3, 4, 5]);
    assert_eq!(mask("0xff").unwrap(), online(8));
    assert_eq!(mask("0x101").unwrap(), [0, 8]);
}

#[test]
fn mask_prefix_case_and_digit_case() {
    assert_eq!(mask("3c").unwrap(), [2, 3, 4, 5]);
    assert_eq!(mask("0X3").unwrap(), [0, 1]);
    assert_eq!(mask("0x3C").unwrap(), [2, 3, 4, 5]);
    assert_eq!(mask("0XaB").unwrap(), mask("0xab").unwrap());
}

#[test]
fn mask_leading_zeros_and_whitespace() {
    assert_eq!(mask("0x0003").unwrap(), [0, 1]);
    assert_eq!(mask("  0x3\n").unwrap(), [0, 1]);
    assert_eq!(mask("\t3c ").unwrap(), [2, 3, 4, 5]);
}

#[test]
fn mask_beyond_64_bits() {
    // Bit 64 alone: "1" followed by 16 zero nibbles.
    let m = format!("0x1{}", "0".repeat(16));
    assert_eq!(mask(&m).unwrap(), [64]);
    // All 128 bits.
    let m = format!("0x{}", "f".repeat(32));
    assert_eq!(mask(&m).unwrap(), online(128));
    // Bits 0 and 127.
    let m = format!("0x8{}1", "0".repeat(30));
    assert_eq!(mask(&m).unwrap(), [0, 127]);
    // 256 CPUs, every other one.
    let m = "5".repeat(64);
    let expected: Vec<usize> = (0..256).step_by(2).collect();
    assert_eq!(mask(&m).unwrap(), expected);
}

#[test]
fn mask_very_long_with_leading_zeros() {
    let m = format!("0x{}1", "0".repeat(10_000));
    assert_eq!(mask(&m).unwrap(), [0]);
}

#[test]
fn mask_kernel_comma_groups() {
    assert_eq!(mask("1,00000003").unwrap(), [0, 1, 32]);
    assert_eq!(mask("0x3,c").unwrap(), mask("0x3c").unwrap());
}

#[test]
fn mask_bad_commas() {
    assert_eq!(
        failure(mask(",3")),
        (
            Some(0),
            "invalid core mask \",3\": ',' at position 0 must sit between groups of hex digits"
                .to_string()
        )
    );
    assert_eq!(failure(mask("3,")).0, Some(1));
    assert_eq!(failure(mask("0x3,,c")).0, Some(4));
}

#[test]
fn mask_empty_string() {
    assert_eq!(
        failure(mask("")),
        (
            Some(0),
            "invalid core mask \"\": expected hex digits, found nothing".to_string()
        )
    );
    assert_eq!(failure(mask("   ")).0, Some(3));
}

#[test]
fn mask_prefix_only() {
    assert_eq!(
        failure(mask("0x")),
        (
            Some(2),
            "invalid core mask \"0x\": expected hex digits after \"0x\" at position 2".to_string()
        )
    );
    assert_eq!(failure(mask(" 0X ")).0, Some(3));
}

#[test]
fn mask_zero_selects_nothing() {
    for m in ["0x0", "0", "0x0000", "0X00,00000000"] {
        let e = CoreSet::from_mask(m, &online(4)).unwrap_err();
        assert_eq!(e, CoreSetError::Empty { input: m.into() });
    }
    assert_eq!(
        CoreSet::from_mask("0x0", &online(4))
            .unwrap_err()
            .to_string(),
        "core mask 0x0 selects no cores"
    );
}

#[test]
fn mask_bad_digits() {
    assert_eq!(
        failure(mask("0xzz")),
        (
            Some(2),
            "invalid core mask \"0xzz\": 'z' at position 2 is not a hex digit".to_string()
        )
    );
    assert_eq!(failure(mask("3g")).0, Some(1));
    assert_eq!(failure(mask("0x3 c")).0, Some(3));
    assert_eq!(failure(mask("-1")).0, Some(0));
    assert_eq!(failure(mask("0o7")).0, Some(1));
    assert_eq!(failure(mask("0xé")).0, Some(2));
    // A list is not a mask.
    assert_eq!(failure(mask("0-3")).0, Some(1));
}

#[test]
fn mask_unparsable_is_structured() {
    let e = CoreSet::from_mask(" 0xq", &online(4)).unwrap_err();
    assert_eq!(
        e,
        CoreSetError::Unparsable {
            input: " 0xq".into(),
            syntax: Syntax::Mask,
            position: 3,
            reason: "'q' at position 3 is not a hex digit".into(),
        }
    );
}

#[test]
fn mask_not_online() {
    let e = CoreSet::from_mask("0x80", &online(2)).unwrap_err();
    assert_eq!(
        e,
        CoreSetError::NotOnline {
            core: 7,
            online: vec![0, 1]
        }
    );
    assert_eq!(
        e.to_string(),
        "core 7 in the core set is not an online CPU of this machine (online: 0-1)"
    );
    // The smallest offending CPU is reported.
    let e = CoreSet::from_mask("0xf", &[0, 2]).unwrap_err();
    assert_eq!(
        e,
        CoreSetError::NotOnline {
            core: 1,
            online: vec![0, 2]
        }
    );
    // A hole in the online set.
    assert!(CoreSet::from_mask("0x5", &[0, 2]).is_ok());
    // A bit far beyond the machine.
    let m = format!("0x1{}", "0".repeat(31));
    let e = CoreSet::from_mask(&m, &online(4)).unwrap_err();
    assert_eq!(
        e,
        CoreSetError::NotOnline {
            core: 124,
            online: online(4)
        }
    );
}

// ---- lists ----

#[test]
fn list_single_and_ranges() {
    assert_eq!(list("0").unwrap(), [0]);
    assert_eq!(list("7").unwrap(), [7]);
    assert_eq!(list("0-1").unwrap(), [0, 1]);
    assert_eq!(list("0,2-5").unwrap(), [0, 2, 3, 4, 5]);
    assert_eq!(list("2-5,8").unwrap(), [2, 3, 4, 5, 8]);
    assert_eq!(list("3-3").unwrap(), [3]);
    assert_eq!(list("0-127").unwrap(), online(128));
}

#[test]
fn list_is_sorted_and_deduplicated() {
    assert_eq!(list("5,1,3").unwrap(), [1, 3, 5]);
    assert_eq!(list("1,1,1").unwrap(), [1]);
    assert_eq!(list("0-3,2-5,4").unwrap(), online(6));
    assert_eq!(list("8,0-1").unwrap(), [0, 1, 8]);
}

#[test]
fn list_whitespace_around_items() {
    assert_eq!(list(" 0 , 2-5 ").unwrap(), [0, 2, 3, 4, 5]);
    assert_eq!(list("1\n").unwrap(), [1]);
    assert_eq!(list("\t0,\t1").unwrap(), [0, 1]);
}

#[test]
fn list_whitespace_inside_item() {
    assert_eq!(
        failure(list("0 -1")),
        (
            Some(1),
            "invalid core list \"0 -1\": ' ' at position 1 is unexpected; \
             expected ',', '-', ':' or the end"
                .to_string()
        )
    );
    assert_eq!(failure(list("0- 1")).0, Some(2));
}

#[test]
fn list_stride() {
    assert_eq!(list("0-6:2").unwrap(), [0, 2, 4, 6]);
    assert_eq!(list("0-7:3").unwrap(), [0, 3, 6]);
    assert_eq!(list("1-1:5").unwrap(), [1]);
    assert_eq!(
        failure(list("0-6:0")),
        (
            Some(4),
            "invalid core list \"0-6:0\": stride at position 4 must be at least 1".to_string()
        )
    );
    assert_eq!(failure(list("0-6:")).0, Some(4));
    // A stride needs a range.
    assert_eq!(failure(list("0:2")).0, Some(1));
}

#[test]
fn list_reversed_range() {
    let e = CoreSet::from_list("0,5-2", &online(8)).unwrap_err();
    assert_eq!(
        e,
        CoreSetError::ReversedRange {
            input: "0,5-2".into(),
            start: 5,
            end: 2
        }
    );
    assert_eq!(
        e.to_string(),
        "invalid core list \"0,5-2\": range 5-2 is reversed (write 2-5)"
    );
}

#[test]
fn list_not_a_number() {
    assert_eq!(
        failure(list("a")),
        (
            Some(0),
            "invalid core list \"a\": 'a' at position 0 is not a digit; \
             expected a CPU number"
                .to_string()
        )
    );
    assert_eq!(failure(list("1a")).0, Some(1));
    assert_eq!(failure(list("0,x")).0, Some(2));
    assert_eq!(failure(list("-1")).0, Some(0));
    assert_eq!(failure(list("0x3")).0, Some(1));
    assert_eq!(failure(list("+1")).0, Some(0));
}

#[test]
fn list_missing_range_end() {
    assert_eq!(
        failure(list("2-")),
        (
            Some(2),
            "invalid core list \"2-\": expected a CPU number after '-' at position 2".to_string()
        )
    );
    assert_eq!(failure(list("2-,3")).0, Some(2));
    assert_eq!(failure(list("1-2-3")).0, Some(3));
}

#[test]
fn list_empty_items() {
    assert_eq!(
        failure(list("1,,2")),
        (
            Some(2),
            "invalid core list \"1,,2\": empty item before ',' at position 2 \
             (two commas in a row)"
                .to_string()
        )
    );
    assert_eq!(
        failure(list("0,1,")),
        (
            Some(3),
            "invalid core list \"0,1,\": trailing ',' at position 3".to_string()
        )
    );
    assert_eq!(failure(list("0, ")).0, Some(1));
    assert_eq!(
        failure(list(",1")),
        (
            Some(0),
            "invalid core list \",1\": list starts with ',' at position 0".to_string()
        )
    );
    assert_eq!(failure(list(",")).0, Some(0));
}

#[test]
fn list_empty_string() {
    assert_eq!(
        failure(list("")),
        (
            Some(0),
            "invalid core list \"\": expected a CPU number or range, found nothing".to_string()
        )
    );
    assert_eq!(failure(list("  ")).0, Some(2));
}

#[test]
fn list_number_too_large() {
    let big = "99999999999999999999999999";
    assert_eq!(
        failure(list(&format!("0,{big}"))).1,
        format!("invalid core list \"0,{big}\": number at position 2 is too large")
    );
}

#[test]
fn list_not_online() {
    let e = CoreSet::from_list("0,7", &online(2)).unwrap_err();
    assert_eq!(
        e,
        CoreSetError::NotOnline {
            core: 7,
            online: vec![0, 1]
        }
    );
    assert_eq!(
        e.to_string(),
        "core 7 in the core set is not an online CPU of this machine (online: 0-1)"
    );
    // Reported in the order written, and the online set is shown sorted.
    let e = CoreSet::from_list("9,0-5", &[3, 1, 0, 2]).unwrap_err();
    assert_eq!(
        e,
        CoreSetError::NotOnline {
            core: 9,
            online: vec![0, 1, 2, 3]
        }
    );
    // A huge range stops at its first offline CPU.
    let e = CoreSet::from_list("0-4000000000", &online(2)).unwrap_err();
    assert_eq!(
        e,
        CoreSetError::NotOnline {
            core: 2,
            online: online(2)
        }
    );
    // Holes in the online set.
    assert_eq!(CoreSet::from_list("0,4", &[0, 4]).unwrap().cores(), [0, 4]);
    assert!(CoreSet::from_list("0-4", &[0, 4]).is_err());
}

#[test]
fn not_online_with_nothing_online() {
    let e = CoreSet::from_list("0", &[]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "core 0 in the core set is not an online CPU of this machine (online: none)"
    );
}

#[test]
fn mask_and_list_agree() {
    assert_eq!(mask("0x3c").unwrap(), list("2-5").unwrap());
    assert_eq!(mask("0x101").unwrap(), list("0,8").unwrap());
    let m = format!("0x{}", "f".repeat(32));
    assert_eq!(mask(&m).unwrap(), list("0-127").unwrap());
}

// ---- the set itself ----

#[test]
fn accessors_and_display() {
    let set = CoreSet::from_list("8,0-3", &online(16)).unwrap();
    assert_eq!(set.cores(), [0, 1, 2, 3, 8]);
    assert_eq!(set.len(), 5);
    assert!(!set.is_empty());
    assert_eq!(set.to_string(), "0-3,8");
    assert_eq!(set, CoreSet::from_mask("0x10f", &online(16)).unwrap());
}

#[test]
fn format_list_compacts_runs() {
    assert_eq!(format_list(&[]), "");
    assert_eq!(format_list(&[0]), "0");
    assert_eq!(format_list(&[0, 1]), "0-1");
    assert_eq!(format_list(&[0, 1, 2, 3, 8]), "0-3,8");
    assert_eq!(format_list(&[0, 2, 4]), "0,2,4");
    assert_eq!(format_list(&[8, 3, 2, 2, 1, 0]), "0-3,8");
    assert_eq!(format_list(&[1, 2, 5, 6, 7, 10]), "1-2,5-7,10");
}

#[test]
fn format_list_round_trips() {
    for cores in [vec![0], vec![0, 1, 2, 3, 8], vec![1, 3, 5, 6, 7, 100]] {
        let text = format_list(&cores);
        assert_eq!(
            CoreSet::from_list(&text, &online(128)).unwrap().cores(),
            cores
        );
    }
}

#[test]
fn parse_cpu_list_for_sysfs() {
    assert_eq!(parse_cpu_list("0-1,4\n").unwrap(), [0, 1, 4]);
    assert_eq!(parse_cpu_list("\n").unwrap(), Vec::<usize>::new());
    assert!(parse_cpu_list("0-").is_err());
}

#[test]
fn online_cpus_on_this_machine() {
    let cpus = CoreSet::online_cpus().unwrap();
    assert!(!cpus.is_empty());
    assert!(cpus.windows(2).all(|w| w[0] < w[1]), "sorted and unique");
    let all = CoreSet::all_online().unwrap();
    assert_eq!(all.cores(), cpus);
    assert_eq!(CoreSet::from_list(&all.to_string(), &cpus).unwrap(), all);
}

#[test]
fn errors_are_std_errors() {
    let e: Box<dyn std::error::Error> = Box::new(CoreSetError::Sys("boom".into()));
    assert_eq!(e.to_string(), "cannot determine the online CPUs: boom");
}
