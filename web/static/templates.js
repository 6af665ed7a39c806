// Templates editor: the placeholder palette inserts "{{ name }}" at the cursor of the
// subject or text field last used, then fires "input" so htmx refreshes the preview.
(function () {
  "use strict";
  var lastField = null;

  function fields() {
    return document.querySelectorAll("[data-insert-target]");
  }

  function insert(field, snippet) {
    var start = field.selectionStart == null ? field.value.length : field.selectionStart;
    var end = field.selectionEnd == null ? start : field.selectionEnd;
    field.value = field.value.slice(0, start) + snippet + field.value.slice(end);
    var caret = start + snippet.length;
    field.focus();
    field.setSelectionRange(caret, caret);
    field.dispatchEvent(new Event("input", { bubbles: true }));
  }

  // The HTML preview is posted (with the CSRF token) into its frame, never linked.
  function submitPreviews() {
    document.querySelectorAll("form[data-autosubmit]").forEach(function (form) {
      form.removeAttribute("data-autosubmit");
      form.submit();
    });
  }

  function init() {
    submitPreviews();
    document.body.addEventListener("htmx:afterSwap", submitPreviews);
    // A placeholder error or a refused save answers 422 with content worth showing.
    if (window.htmx && htmx.config.responseHandling) {
      htmx.config.responseHandling.unshift({ code: "422", swap: true, error: false });
    }
    fields().forEach(function (field) {
      field.addEventListener("focus", function () { lastField = field; });
    });
    document.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-insert]");
      if (!button) return;
      event.preventDefault();
      var field = lastField || document.getElementById("body");
      if (field) insert(field, button.getAttribute("data-insert"));
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
