/* Customer radar in the browser: one Server-Sent Events stream per page for a logged-in member.
 *
 * - <body data-radar-stream="/radar/stream/?after=VERSION"> opens the member's alert stream. Each
 *   `notification` frame updates the bell's unread count, shows a toast (once per alert and state,
 *   remembered for the tab in sessionStorage) and updates the radar list if the page shows it.
 * - [data-radar-contact-stream="/radar/contacts/ID/stream/?after=CURSOR"] (the contact activity card,
 *   loaded by htmx) opens that contact's stream and puts each `activity` frame on top of its timeline.
 * Streams are closed while the tab is hidden and reopened, from where they were, when it shows again.
 * The server ends a stream after a few minutes; EventSource reconnects by itself with Last-Event-ID.
 */
(function () {
  "use strict";

  var SEEN_KEY = "siyu.radar.toasted";
  var MAX_TOASTS = 3;
  var HIDDEN_CLOSE_MS = 30000;

  function withAfter(url, after) {
    if (after === null || after === undefined || after === "") { return url; }
    var u = new URL(url, window.location.href);
    u.searchParams.set("after", after);
    return u.pathname + u.search;
  }

  /* A stream that survives hidden tabs: closed after a while hidden, reopened from its last id. */
  function LiveStream(url, handlers) {
    this.url = url;
    this.handlers = handlers;
    this.lastId = null;
    this.source = null;
    this.hiddenTimer = null;
    this.stopped = false;
    this.open();
    var self = this;
    this.onVisibility = function () {
      if (document.visibilityState === "hidden") {
        self.hiddenTimer = window.setTimeout(function () { self.close(); }, HIDDEN_CLOSE_MS);
      } else {
        window.clearTimeout(self.hiddenTimer);
        if (!self.source && !self.stopped) { self.open(); }
      }
    };
    document.addEventListener("visibilitychange", this.onVisibility);
  }
  LiveStream.prototype.open = function () {
    var self = this;
    var source = new EventSource(withAfter(this.url, this.lastId));
    Object.keys(this.handlers).forEach(function (name) {
      source.addEventListener(name, function (event) {
        if (event.lastEventId) { self.lastId = event.lastEventId; }
        var data;
        try { data = JSON.parse(event.data); } catch (e) { return; }
        self.handlers[name](data, self);
      });
    });
    this.source = source;
  };
  LiveStream.prototype.close = function () {
    if (this.source) { this.source.close(); this.source = null; }
  };
  LiveStream.prototype.stop = function () {
    this.stopped = true;
    this.close();
    document.removeEventListener("visibilitychange", this.onVisibility);
  };

  function fragment(html) {
    var template = document.createElement("template");
    template.innerHTML = html.trim();
    return template.content.firstElementChild;
  }

  // --------------------------------------------------------------------------------------- alerts

  function setUnread(count) {
    document.querySelectorAll("[data-radar-unread]").forEach(function (el) {
      el.textContent = count > 99 ? "99+" : String(count);
      el.hidden = !count;
    });
  }

  function seenStates() {
    try { return JSON.parse(window.sessionStorage.getItem(SEEN_KEY) || "{}"); } catch (e) { return {}; }
  }

  function rememberState(id, state) {
    var seen = seenStates();
    seen[id] = state;
    var keys = Object.keys(seen);
    if (keys.length > 200) { keys.slice(0, keys.length - 200).forEach(function (k) { delete seen[k]; }); }
    try { window.sessionStorage.setItem(SEEN_KEY, JSON.stringify(seen)); } catch (e) { /* private mode */ }
  }

  function toastContainer() {
    var box = document.getElementById("radar-toasts");
    if (!box) {
      box = document.createElement("div");
      box.id = "radar-toasts";
      box.className = "toast-container position-fixed bottom-0 end-0 p-3";
      box.setAttribute("aria-live", "polite");
      document.body.appendChild(box);
    }
    return box;
  }

  function showToast(alert) {
    var box = toastContainer();
    while (box.children.length >= MAX_TOASTS) { box.removeChild(box.firstElementChild); }
    var toast = document.createElement("div");
    toast.className = "toast show";
    toast.setAttribute("role", "status");
    var header = document.createElement("div");
    header.className = "toast-header";
    var title = document.createElement("strong");
    title.className = "me-auto";
    title.textContent = box.dataset.title || "Customer radar";
    var close = document.createElement("button");
    close.type = "button";
    close.className = "btn-close";
    close.setAttribute("aria-label", box.dataset.closeLabel || "Close");
    close.addEventListener("click", function (event) { event.stopPropagation(); toast.remove(); });
    header.appendChild(title);
    header.appendChild(close);
    var body = document.createElement(alert.contact_url ? "a" : "div");
    body.className = "toast-body d-block text-reset text-decoration-none";
    body.textContent = alert.text;
    if (alert.contact_url) { body.href = alert.contact_url; }
    toast.appendChild(header);
    toast.appendChild(body);
    box.appendChild(toast);
    window.setTimeout(function () { toast.remove(); }, 8000);
  }

  function updateList(alert) {
    var list = document.querySelector("[data-radar-list] [data-radar-items]");
    if (!list) { return; }
    var item = fragment(alert.html);
    if (!item) { return; }
    var existing = list.querySelector('[data-notification-id="' + alert.id + '"]');
    if (existing) { existing.remove(); }
    var onlyUnread = list.closest("[data-radar-list]").dataset.unreadOnly === "1";
    if (onlyUnread && alert.is_read) { return; }
    list.insertBefore(item, list.firstElementChild);
    if (window.htmx) { window.htmx.process(item); }
    var empty = document.querySelector("[data-radar-list] [data-radar-empty]");
    if (empty) { empty.hidden = true; }
  }

  function onAlert(alert) {
    setUnread(alert.unread);
    updateList(alert);
    if (alert.is_read) { return; }
    var seen = seenStates();
    if (seen[alert.id] === alert.state) { return; }
    rememberState(alert.id, alert.state);
    showToast(alert);
  }

  function startAlerts() {
    var url = document.body.dataset.radarStream;
    if (!url || !window.EventSource) { return; }
    var stream = new LiveStream(url, { notification: onAlert });
    var after = new URL(url, window.location.href).searchParams.get("after");
    if (after) { stream.lastId = after; }
  }

  // Marking read through htmx answers with the new count.
  document.addEventListener("siyu:radar-unread", function (event) {
    if (event.detail && typeof event.detail.unread === "number") { setUnread(event.detail.unread); }
  });

  // ------------------------------------------------------------------------------ contact timeline

  function onActivity(root) {
    return function (row, stream) {
      if (!document.body.contains(root)) { stream.stop(); return; }
      var groups = root.querySelector("[data-activity-groups]");
      if (!groups || root.querySelector('[data-event-id="' + row.id + '"]')) { return; }
      var day = groups.querySelector("[data-activity-day]");
      if (!day || day.dataset.activityDay !== row.day) {
        day = document.createElement("div");
        day.className = "mb-2";
        day.dataset.activityDay = row.day;
        var label = document.createElement("div");
        label.className = "small fw-bold text-secondary text-uppercase mt-2";
        label.textContent = row.day_label;
        var list = document.createElement("ul");
        list.className = "list-group list-group-flush";
        list.setAttribute("data-activity-list", "");
        day.appendChild(label);
        day.appendChild(list);
        groups.insertBefore(day, groups.firstElementChild);
      }
      var item = fragment(row.html);
      var target = day.querySelector("[data-activity-list]");
      if (item && target) { target.insertBefore(item, target.firstElementChild); }
      var empty = root.querySelector("[data-activity-empty]");
      if (empty) { empty.hidden = true; }
    };
  }

  function startContactStreams(scope) {
    var roots = [];
    if (scope.matches && scope.matches("[data-radar-contact-stream]")) { roots.push(scope); }
    if (scope.querySelectorAll) {
      scope.querySelectorAll("[data-radar-contact-stream]").forEach(function (el) { roots.push(el); });
    }
    roots.forEach(function (root) {
      if (root.dataset.streaming || !window.EventSource) { return; }
      root.dataset.streaming = "1";
      var stream = new LiveStream(root.dataset.radarContactStream, { activity: onActivity(root) });
      window.addEventListener("pagehide", function () { stream.stop(); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    startAlerts();
    startContactStreams(document);
  });
  document.addEventListener("htmx:load", function (event) { startContactStreams(event.target); });
})();
