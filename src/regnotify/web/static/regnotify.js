// regnotify: small enhancements on top of pages that work without JavaScript.
// Loaded from /static (the Content-Security-Policy allows no inline script).
(function () {
  "use strict";

  var BELL_REFRESH_MS = 30000;
  var EMAIL_POLL_MS = 3000;

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  // ---- the bell: refresh the count and the panel every 30 s; dismiss without leaving the page ----
  function setupBell() {
    var bell = document.querySelector("[data-bell]");
    if (!bell) return;
    var panel = bell.querySelector("[data-bell-panel]");
    var count = bell.querySelector("[data-bell-count]");
    var summary = bell.querySelector("summary");

    function showCount(n) {
      count.textContent = String(n);
      count.classList.toggle("is-zero", n === 0);
      summary.setAttribute("aria-label", "Notices: " + n + " undismissed");
    }

    function refresh() {
      return fetch(bell.getAttribute("data-panel-url"), {
        credentials: "same-origin",
        headers: { "X-Requested-With": "fetch" },
      }).then(function (response) {
        if (!response.ok) return;
        return response.text().then(function (html) {
          // Server-rendered (autoescaped) HTML from this origin.
          panel.innerHTML = html;
          var inner = panel.querySelector("[data-count]");
          showCount(inner ? parseInt(inner.getAttribute("data-count"), 10) || 0 : 0);
        });
      }).catch(function () { /* offline for a moment: try again next time */ });
    }

    document.addEventListener("submit", function (event) {
      var form = event.target;
      if (!form.matches || !form.matches("[data-bell-form]")) return;
      event.preventDefault();
      fetch(form.getAttribute("action"), {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
        headers: { "X-Requested-With": "fetch", "X-CSRF-Token": csrfToken() },
      }).then(refresh).then(function () {
        if (bell.open && summary) summary.focus();
      });
    });

    bell.addEventListener("toggle", function () { if (bell.open) refresh(); });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && bell.open) { bell.open = false; summary.focus(); }
    });
    window.setInterval(refresh, BELL_REFRESH_MS);
  }

  // ---- the create form: show the fields of the chosen event and method ----
  function setupNotificationForm() {
    var form = document.querySelector("[data-notification-form]");
    if (!form) return;
    var eventSelect = form.querySelector("[data-event-select]");
    var methodSelect = form.querySelector("[data-method-select]");

    function sync() {
      form.querySelectorAll("[data-for-events]").forEach(function (block) {
        var events = block.getAttribute("data-for-events").split(" ");
        block.hidden = events.indexOf(eventSelect.value) < 0;
      });
      form.querySelectorAll("[data-for-methods]").forEach(function (block) {
        var methods = block.getAttribute("data-for-methods").split(" ");
        block.hidden = methods.indexOf(methodSelect.value) < 0;
      });
    }
    eventSelect.addEventListener("change", sync);
    methodSelect.addEventListener("change", sync);
    sync();

    // The webhook template must be JSON: say so while typing (the server checks it again).
    var template = form.querySelector("[data-json-check]");
    var status = form.querySelector("[data-json-status]");
    if (template && status) {
      template.addEventListener("input", function () {
        var text = template.value.trim();
        status.classList.remove("bad", "good");
        if (!text) { status.textContent = ""; return; }
        try {
          JSON.parse(text);
          status.textContent = "Valid JSON.";
          status.classList.add("good");
        } catch (error) {
          status.textContent = "Not valid JSON yet: " + error.message;
          status.classList.add("bad");
        }
      });
    }

    // E-mail: after "Send confirmation mail", wait for the address to be confirmed.
    var wait = form.querySelector('[data-email-wait="waiting"]');
    if (wait) {
      var timer = window.setInterval(function () {
        fetch(wait.getAttribute("data-status-url"), { credentials: "same-origin" })
          .then(function (response) { return response.ok ? response.json() : null; })
          .then(function (body) {
            if (!body || !body.confirmed) return;
            window.clearInterval(timer);
            wait.setAttribute("data-email-wait", "confirmed");
            wait.classList.remove("status-waiting");
            wait.classList.add("status-confirmed");
            wait.textContent = body.email + " is confirmed: you can create the notification.";
          })
          .catch(function () {});
      }, EMAIL_POLL_MS);
    }
  }

  // ---- copy buttons (the signing secret) ----
  function setupCopyButtons() {
    document.querySelectorAll("[data-copy-target]").forEach(function (button) {
      button.addEventListener("click", function () {
        var source = document.getElementById(button.getAttribute("data-copy-target"));
        var status = button.parentElement.querySelector("[data-copy-status]");
        var text = source ? source.textContent.trim() : "";
        function done(message) { if (status) status.textContent = message; }
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(text).then(function () { done("Copied."); }, function () {
            done("Select the secret and copy it.");
          });
        } else {
          var range = document.createRange();
          range.selectNodeContents(source);
          var selection = window.getSelection();
          selection.removeAllRanges();
          selection.addRange(range);
          done(document.execCommand && document.execCommand("copy") ? "Copied." : "Selected: press Ctrl+C.");
        }
      });
    });
  }

  // ---- History: reload while a delivery is pending, to show its outcome ----
  function setupPendingRefresh() {
    var table = document.querySelector("[data-refresh-while-pending]");
    if (!table) return;
    var delay = parseInt(table.getAttribute("data-refresh-while-pending"), 10) || 3000;
    window.setTimeout(function () { window.location.reload(); }, delay);
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupBell();
    setupNotificationForm();
    setupCopyButtons();
    setupPendingRefresh();
  });
})();
