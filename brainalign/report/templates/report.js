// Sort a table by the clicked column: numbers numerically (missing values last), text alphabetically.
(function () {
  "use strict";
  function value(row, col, numeric) {
    var text = row.cells[col].getAttribute("data-sort");
    return numeric ? parseFloat(text) : text;
  }
  function compare(a, b, numeric, sign) {
    if (numeric) {
      if (isNaN(a)) { return isNaN(b) ? 0 : 1; }
      if (isNaN(b)) { return -1; }
      return sign * (a - b);
    }
    return sign * a.localeCompare(b);
  }
  function sortBy(table, header, col) {
    var ascending = header.getAttribute("aria-sort") !== "ascending";
    var numeric = header.getAttribute("data-type") === "num";
    var sign = ascending ? 1 : -1;
    table.querySelectorAll("th").forEach(function (th) { th.removeAttribute("aria-sort"); });
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      return compare(value(a, col, numeric), value(b, col, numeric), numeric, sign);
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    table.querySelectorAll("thead th").forEach(function (header, col) {
      header.addEventListener("click", function () { sortBy(table, header, col); });
      header.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          sortBy(table, header, col);
        }
      });
    });
  });
})();
