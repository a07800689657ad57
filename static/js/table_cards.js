// Lists that are a table on a desk and one card a row on a phone (table.cards, app.css): each
// cell gets its column's heading as data-label, read from the table's own <thead>, so the words
// are written once, in the template, and translated there.
(function () {
  "use strict";

  function headings(table) {
    // One entry per column, a heading spanning several columns repeated for each.
    const row = table.tHead && table.tHead.rows[0];
    const columns = [];
    if (!row) return columns;
    for (const cell of row.cells) {
      for (let i = 0; i < cell.colSpan; i++) columns.push(cell.textContent.trim());
    }
    return columns;
  }

  function label(table) {
    const columns = headings(table);
    if (!columns.length) return;
    for (const body of table.tBodies) {
      for (const row of body.rows) {
        let column = 0;
        for (const cell of row.cells) {
          const text = columns[column];
          if (cell.colSpan === 1 && text && !cell.hasAttribute("data-label")) {
            cell.dataset.label = text;
          }
          column += cell.colSpan;
        }
      }
    }
  }

  document.querySelectorAll("table.cards").forEach(label);
})();
