//! Durations as users write them: `500ms`, `30s`, `5m`, `1h`, `2d`.

/// Parses a duration into milliseconds; a bare number is milliseconds.
pub fn parse_duration_ms(text: &str) -> Option<i64> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: i64 = num.parse().ok()?;
    let unit = unit.trim();
    let factor = if unit.is_empty() { 1 } else { unit_ms(unit)? };
    n.checked_mul(factor)
}

/// Milliseconds in one `unit` (`ms`, `s`, `minute`, `hours`, ...).
fn unit_ms(unit: &str) -> Option<i64> {
    Some(match unit.to_ascii_lowercase().as_str() {
        "ms" | "millisecond" | "milliseconds" => 1,
        "s" | "sec" | "second" | "seconds" => 1_000,
        "m" | "min" | "minute" | "minutes" => 60_000,
        "h" | "hour" | "hours" => 3_600_000,
        "d" | "day" | "days" => 86_400_000,
        _ => return None,
    })
}

/// Parses a SQL interval literal into milliseconds: `INTERVAL '1' MINUTE`,
/// `INTERVAL '30' SECOND`, `INTERVAL '5 minutes'`, or a bare duration (`5m`).
pub fn parse_interval_ms(text: &str) -> Option<i64> {
    let t = text.trim();
    let Some(rest) = t
        .get(..8)
        .filter(|p| p.eq_ignore_ascii_case("INTERVAL"))
        .map(|_| t[8..].trim())
    else {
        return parse_duration_ms(t);
    };
    let rest = rest.strip_prefix('\'')?;
    let (quoted, unit) = rest.split_once('\'')?;
    let unit = unit.trim();
    let (num, unit) = if unit.is_empty() {
        let q = quoted.trim();
        let split = q.find(|c: char| !c.is_ascii_digit()).unwrap_or(q.len());
        (q[..split].to_owned(), q[split..].trim().to_owned())
    } else {
        (quoted.trim().to_owned(), unit.to_owned())
    };
    let factor = unit_ms(&unit)?;
    num.parse::<i64>().ok()?.checked_mul(factor)
}

#[cfg(test)]
mod tests {
    use super::{parse_duration_ms, parse_interval_ms};

    #[test]
    fn intervals() {
        assert_eq!(parse_interval_ms("INTERVAL '1' MINUTE"), Some(60_000));
        assert_eq!(parse_interval_ms("interval '30' second"), Some(30_000));
        assert_eq!(parse_interval_ms("INTERVAL '5 minutes'"), Some(300_000));
        assert_eq!(parse_interval_ms("INTERVAL '2' HOURS"), Some(7_200_000));
        assert_eq!(parse_interval_ms("5m"), Some(300_000));
        assert_eq!(parse_interval_ms("INTERVAL 'x' MINUTE"), None);
    }

    #[test]
    fn units() {
        assert_eq!(parse_duration_ms("500ms"), Some(500));
        assert_eq!(parse_duration_ms("30s"), Some(30_000));
        assert_eq!(parse_duration_ms("5m"), Some(300_000));
        assert_eq!(parse_duration_ms("1h"), Some(3_600_000));
        assert_eq!(parse_duration_ms("250"), Some(250));
        assert_eq!(parse_duration_ms("5x"), None);
        assert_eq!(parse_duration_ms("s"), None);
    }
}
