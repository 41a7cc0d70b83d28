// Small page behaviours, loaded from base.html (the CSP allows scripts from 'self' only: no inline code).
// Every behaviour is an enhancement: without JavaScript the forms still work and the server still asks.
(function () {
  // <input type="checkbox" data-select-all="#bulk input.pick">: tick or untick every matching box.
  function selectAll() {
    document.querySelectorAll("input[data-select-all]").forEach(function (box) {
      box.addEventListener("change", function () {
        document.querySelectorAll(box.getAttribute("data-select-all")).forEach(function (item) {
          item.checked = box.checked;
        });
      });
    });
  }

  // <form data-confirm="Close the incident?">: ask in a modal <dialog> before submitting. Without
  // JavaScript the form submits directly, so use it only where the server-side step is safe or asks again.
  function confirmations() {
    var dialog = document.createElement("dialog");
    dialog.className = "confirm-dialog";
    dialog.setAttribute("aria-labelledby", "confirm-dialog-text");
    dialog.innerHTML = '<form method="dialog"><p id="confirm-dialog-text"></p>' +
      '<div class="actions"><button value="ok" class="primary">Yes, continue</button>' +
      '<button value="cancel" autofocus>No, go back</button></div></form>';
    var pending = null;
    dialog.addEventListener("close", function () {
      var form = pending;
      pending = null;
      if (form && dialog.returnValue === "ok") {
        form.dataset.confirmed = "1";
        if (form.requestSubmit) form.requestSubmit(form._submitter || undefined); else form.submit();
      }
    });
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      if (!dialog.isConnected) document.body.appendChild(dialog);
      form.addEventListener("click", function (e) {
        if (e.target.matches("button[type=submit], button:not([type]), input[type=submit]")) form._submitter = e.target;
      });
      form.addEventListener("submit", function (e) {
        if (form.dataset.confirmed === "1") { delete form.dataset.confirmed; return; }
        if (typeof dialog.showModal !== "function") return;
        e.preventDefault();
        pending = form;
        dialog.querySelector("#confirm-dialog-text").textContent = form.getAttribute("data-confirm");
        dialog.returnValue = "";
        dialog.showModal();
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { selectAll(); confirmations(); });
})();
