// Keyboard shortcuts on the alert queue: j/k next/previous row, o or Enter open, a select
// (for the bulk action), x acknowledge the selected rows. Ignored while typing in a field.
(function () {
  "use strict";
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr[data-alert]"));
  if (!rows.length) { return; }
  var current = -1;
  function focusRow(i) {
    current = Math.max(0, Math.min(rows.length - 1, i));
    rows.forEach(function (r) { r.removeAttribute("tabindex"); r.classList.remove("current"); });
    var row = rows[current];
    row.setAttribute("tabindex", "-1");
    row.classList.add("current");
    row.focus();
  }
  document.addEventListener("keydown", function (e) {
    var t = e.target;
    if (e.ctrlKey || e.metaKey || e.altKey) { return; }
    if (t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA")) { return; }
    var row = current >= 0 ? rows[current] : null;
    if (e.key === "j") { focusRow(current + 1); e.preventDefault(); }
    else if (e.key === "k") { focusRow(current - 1); e.preventDefault(); }
    else if ((e.key === "o" || e.key === "Enter") && row && t === row) {
      var link = row.querySelector("a[href^='/alerts/']");
      if (link) { window.location.href = link.getAttribute("href"); e.preventDefault(); }
    } else if (e.key === "a" && row) {
      var box = row.querySelector("input[type=checkbox]");
      if (box) { box.checked = !box.checked; e.preventDefault(); }
    } else if (e.key === "x") {
      var form = document.querySelector("form[action='/alerts/bulk']");
      if (row && !form.querySelector("input[name=ids]:checked")) {
        row.querySelector("input[type=checkbox]").checked = true;
      }
      if (form.querySelector("input[name=ids]:checked")) {
        form.querySelector("select[name=action]").value = "acknowledge";
        form.submit();
        e.preventDefault();
      }
    }
  });
})();
