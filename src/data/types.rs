//! SQL data types, fields and schemas.

use std::fmt;

/// The SQL types the engine computes with.
///
/// `Decimal` is exact: values are `i128` integers scaled by `10^scale`, so sums of
/// prices never pick up binary rounding error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum DataType {
    Int64,
    Float64,
    Bool,
    Utf8,
    /// Milliseconds since the Unix epoch, UTC.
    Timestamp,
    Decimal {
        precision: u8,
        scale: u8,
    },
}

impl DataType {
    /// Whether arithmetic applies to values of this type.
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            DataType::Int64 | DataType::Float64 | DataType::Decimal { .. }
        )
    }

    /// Parses a SQL type name: `BIGINT`, `INT`, `DOUBLE`, `FLOAT`, `VARCHAR(n)`,
    /// `TEXT`, `BOOLEAN`, `TIMESTAMP`, `DECIMAL(p,s)` ... (case-insensitive).
    pub fn parse(name: &str) -> Option<DataType> {
        let upper = name.trim().to_ascii_uppercase();
        let (base, args) = match upper.split_once('(') {
            Some((b, rest)) => (b.trim(), Some(rest.trim_end_matches(')'))),
            None => (upper.as_str(), None),
        };
        Some(match base {
            "BIGINT" | "INT" | "INTEGER" | "SMALLINT" | "TINYINT" | "INT8" | "INT4" | "LONG" => {
                DataType::Int64
            }
            "DOUBLE" | "DOUBLE PRECISION" | "FLOAT" | "FLOAT8" | "REAL" | "FLOAT64" => {
                DataType::Float64
            }
            "VARCHAR" | "TEXT" | "STRING" | "CHAR" | "CHARACTER VARYING" => DataType::Utf8,
            "BOOLEAN" | "BOOL" => DataType::Bool,
            "TIMESTAMP" | "TIMESTAMPTZ" | "DATETIME" => DataType::Timestamp,
            "DECIMAL" | "NUMERIC" => {
                let mut parts = args.unwrap_or("18,2").split(',');
                let precision: u8 = parts.next()?.trim().parse().ok()?;
                let scale: u8 = parts.next().map_or(Some(0), |s| s.trim().parse().ok())?;
                if precision == 0 || precision > 38 || scale > precision {
                    return None;
                }
                DataType::Decimal { precision, scale }
            }
            _ => return None,
        })
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataType::Int64 => f.write_str("BIGINT"),
            DataType::Float64 => f.write_str("DOUBLE"),
            DataType::Bool => f.write_str("BOOLEAN"),
            DataType::Utf8 => f.write_str("VARCHAR"),
            DataType::Timestamp => f.write_str("TIMESTAMP"),
            DataType::Decimal { precision, scale } => write!(f, "DECIMAL({precision},{scale})"),
        }
    }
}

/// A named, typed column of a schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub data_type: DataType,
}

impl Field {
    pub fn new(name: impl Into<String>, data_type: DataType) -> Field {
        Field {
            name: name.into(),
            data_type,
        }
    }
}

/// An ordered list of fields. Column lookup by name is case-insensitive, as in SQL.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Schema {
    pub fields: Vec<Field>,
}

impl Schema {
    pub fn new(fields: Vec<Field>) -> Schema {
        Schema { fields }
    }

    /// The index of the column called `name`, ignoring ASCII case.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.fields
            .iter()
            .position(|f| f.name.eq_ignore_ascii_case(name))
    }

    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// `name TYPE, ...`: the columns as SQL declares them.
    pub fn describe(&self) -> String {
        let items: Vec<String> = self
            .fields
            .iter()
            .map(|f| format!("{} {}", f.name, f.data_type))
            .collect();
        items.join(", ")
    }

    /// Column names joined by commas: the CSV header line (without newline).
    pub fn header(&self) -> String {
        let names: Vec<&str> = self.fields.iter().map(|f| f.name.as_str()).collect();
        names.join(",")
    }
}
