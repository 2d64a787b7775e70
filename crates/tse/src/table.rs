//! Plain-text tables for the terminal: left-aligned columns, two spaces apart, no trailing blanks.

/// Renders `rows` (the first one being the header) as aligned text, one line per row.
pub(crate) fn render<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [0usize; N];
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn columns_align_and_lines_end_clean() {
        let rows = [
            ["A".to_owned(), "LONG".to_owned()],
            ["wide cell".to_owned(), "x".to_owned()],
        ];
        assert_eq!(super::render(&rows), "A          LONG\nwide cell  x\n");
    }
}
