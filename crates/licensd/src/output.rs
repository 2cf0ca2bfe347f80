//! Human output: aligned tables of selected fields. `--json` bypasses this entirely.

use serde_json::Value;

/// Renders one field for a table cell; instants (`*_at` fields) become RFC 3339.
fn cell(row: &Value, field: &str) -> String {
    let value = field.split('.').try_fold(row, |value, part| value.get(part));
    match value {
        None | Some(Value::Null) => "-".to_string(),
        Some(Value::String(text)) => text.clone(),
        Some(Value::Number(number)) if field.ends_with("_at") => number
            .as_i64()
            .map(licensd_domain::clock::to_rfc3339)
            .unwrap_or_else(|| number.to_string()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_string).unwrap_or_else(|| item.to_string()))
            .collect::<Vec<_>>()
            .join(","),
        Some(other) => other.to_string(),
    }
}

pub fn table(rows: &[Value], columns: &[(&str, &str)]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| columns.iter().map(|(_, field)| cell(row, field)).collect())
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, (title, _))| {
            cells
                .iter()
                .map(|row| row[i].chars().count())
                .chain([title.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |values: Vec<String>| {
        values
            .iter()
            .zip(&widths)
            .map(|(value, width)| format!("{value:<width$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = vec![line(columns.iter().map(|(title, _)| title.to_string()).collect())];
    out.extend(cells.into_iter().map(line));
    out.join("\n")
}

/// What a command prints for a value the server answered: the JSON itself under `--json`;
/// otherwise a list as a table and a single object as `field: value` lines, of the given
/// columns. Every subcommand group prints through this, so they all read alike.
pub fn show(value: &Value, json: bool, columns: &[(&str, &str)]) -> String {
    if json {
        return value.to_string();
    }
    match value {
        Value::Array(rows) => table(rows, columns),
        other => record(other, columns),
    }
}

/// A single object as `field: value` lines.
pub fn record(row: &Value, fields: &[(&str, &str)]) -> String {
    let width = fields.iter().map(|(title, _)| title.len()).max().unwrap_or(0);
    fields
        .iter()
        .map(|(title, field)| format!("{title:<width$}  {}", cell(row, field)))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn table_aligns_columns_and_formats_instants() {
        let rows = vec![
            json!({"id": 1, "code": "app", "created_at": 1_767_225_600_000i64}),
            json!({"id": 22, "code": null}),
        ];
        let text = table(&rows, &[("ID", "id"), ("CODE", "code"), ("CREATED", "created_at")]);
        assert_eq!(
            text,
            "ID  CODE  CREATED\n1   app   2026-01-01T00:00:00.000Z\n22  -     -"
        );
    }

    #[test]
    fn record_reads_nested_fields() {
        let row = json!({"terms": {"max_activations": 3}});
        assert_eq!(record(&row, &[("MAX", "terms.max_activations")]), "MAX  3");
    }
}
