/* sipflask's own page behaviour. The Content-Security-Policy allows scripts from /static only
   (no inline <script>, no on*= attributes, no eval), so every handler lives here, attached to
   the document (delegated): they keep working after htmx swaps parts of a page, and templates
   opt in with data- attributes. Loaded in <head> without defer, so the "js" class is on <html>
   before the page is drawn (no flash of the parts that only show without JavaScript). */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  /* Copy buttons: <button type="button" data-copy="text">Copy</button>. */
  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest("button[data-copy]");
    if (!button || !navigator.clipboard) return;
    navigator.clipboard.writeText(button.dataset.copy).then(function () {
      button.textContent = "Copied";
    }, function () { /* clipboard refused (no permission): the text stays selectable */ });
  });

  /* Buyer editor: show/hide the SIP section as the Number changes. */
  var SIP = /^\s*sips?:/i;
  function syncSip() {
    var input = document.getElementById("number"), section = document.getElementById("sip-section");
    if (!input || !section) return;
    var on = SIP.test(input.value);
    if (section.dataset.loaded === "1") {
      section.classList.toggle("sip-off", !on);
    } else if (on && !section.dataset.loading && window.htmx) {
      section.dataset.loading = "1";
      window.htmx.trigger(section, "sip-needed");
    }
  }
  document.addEventListener("input", function (e) { if (e.target.id === "number") syncSip(); });
  document.addEventListener("htmx:afterSettle", syncSip);

  /* Buyer and webhook editors: a token button ([data-token]) inserts its token at the cursor
     of the last field that takes tokens ([data-tokens]), else into the Number or the URL. */
  var lastTokenField = null;
  document.addEventListener("focusin", function (e) {
    if (e.target.matches && e.target.matches("[data-tokens]")) lastTokenField = e.target;
  });
  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest("[data-token]");
    if (!button) return;
    e.preventDefault();
    var field = lastTokenField && document.body.contains(lastTokenField)
      ? lastTokenField : document.getElementById("number") || document.getElementById("url");
    if (!field) return;
    var token = button.dataset.token;
    var start = field.selectionStart == null ? field.value.length : field.selectionStart;
    var end = field.selectionEnd == null ? start : field.selectionEnd;
    field.value = field.value.slice(0, start) + token + field.value.slice(end);
    field.focus();
    field.setSelectionRange(start + token.length, start + token.length);
    field.dispatchEvent(new Event("input", {bubbles: true}));
    field.dispatchEvent(new KeyboardEvent("keyup", {bubbles: true}));
  });

  /* Webhook editor: a header row's value is a password field while "Secret" is ticked. */
  document.addEventListener("change", function (e) {
    var box = e.target;
    if (!box.matches || !box.matches(".header-secret input[type=checkbox]")) return;
    var row = box.closest(".webhook-header-row");
    var value = row && row.querySelector("input[name$='-value']");
    if (value) value.type = box.checked ? "password" : "text";
  });
})();
