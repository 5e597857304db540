/* The segment rule builder (Alpine.js component "segmentBuilder").
 *
 * It keeps the rule document as a tree of groups and conditions, renders the tree as a flat list of
 * rows (Alpine has no recursive templates), posts the document to the preview endpoint 400 ms after
 * the last change and shows the server's errors beside the conditions whose paths they name
 * ("root.all[2].value" → the third child of the root group). The document goes back to the server in
 * the hidden input "rules" when the form is submitted.
 *
 * Data comes from three json_script blocks: "builder-catalog" (what the pickers offer),
 * "builder-document" (the rule to edit) and "builder-errors" (errors by path from a refused save).
 */
(function () {
  "use strict";

  var DAY_OPS = ["within_last_days", "more_than_days_ago", "within_next_days", "anniversary_within_days"];
  var NO_VALUE_OPS = ["is_set", "is_not_set", "is_true", "is_false"];
  var LIST_OPS = ["in", "not_in", "has_any", "has_all", "has_none"];
  var NUMBER_OPS = ["gt", "gte", "lt", "lte"];
  var NUMERIC_AGGREGATES = ["sum", "avg", "min", "max"];
  var MOMENT_AGGREGATES = ["first", "last"];
  var KNOWN_KINDS = ["field", "tags", "stage", "owner", "channel", "identity", "event", "purchase", "rfm", "segment"];
  var DEBOUNCE_MS = 400;

  function readJson(id, fallback) {
    var el = document.getElementById(id);
    if (!el) { return fallback; }
    try { return JSON.parse(el.textContent); } catch (error) { return fallback; }
  }

  function copy(value) { return JSON.parse(JSON.stringify(value)); }

  function isObject(value) { return value !== null && typeof value === "object" && !Array.isArray(value); }

  function includes(list, value) { return list.indexOf(value) !== -1; }

  function isoDay(offsetDays) {
    var day = new Date(Date.now() + (offsetDays || 0) * 86400000);
    var month = String(day.getMonth() + 1).padStart(2, "0");
    return day.getFullYear() + "-" + month + "-" + String(day.getDate()).padStart(2, "0");
  }

  function numberOrText(value) {
    if (typeof value === "number") { return value; }
    var text = String(value == null ? "" : value).trim();
    if (text !== "" && !isNaN(Number(text))) { return Number(text); }
    return value;
  }

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function segmentBuilder() {
    return {
      catalog: { fields: [], ops: {}, opLabels: {}, tagGroups: [], stages: [], members: [], teams: [], channels: [],
        identityTypes: [], segments: [], eventTypes: [], eventNames: [], aggregates: [], purchaseMeasures: [],
        touches: [], rfmGroups: [], kinds: [], comparisons: [], momentOps: [], propertyOps: [] },
      labels: {},
      tree: null,
      errors: {},
      general: [],
      paths: {},
      nextUid: 1,
      timer: null,
      sequence: 0,
      propertyKeys: {},
      names: {},
      previewUrl: "",
      propertiesUrl: "",
      segmentId: "",
      rawText: "",
      rawError: "",
      liveCount: null,

      init: function () {
        this.catalog = Object.assign(this.catalog, readJson("builder-catalog", {}));
        this.labels = readJson("builder-labels", {});
        this.previewUrl = this.$el.dataset.previewUrl;
        this.propertiesUrl = this.$el.dataset.propertiesUrl;
        this.segmentId = this.$el.dataset.segmentId || "";
        this.names = this.buildNames();
        var documentJson = readJson("builder-document", null);
        this.load(documentJson);
        var errors = readJson("builder-errors", {});
        this.serialise();
        this.applyErrors(errors || {});
        this.preview();
      },

      buildNames: function () {
        var names = { tag: {}, member: {}, team: {}, channel: {}, segment: {} };
        this.catalog.tagGroups.forEach(function (group) {
          group.tags.forEach(function (tag) { names.tag[tag.id] = tag.name; });
        });
        this.catalog.members.forEach(function (m) { names.member[m.id] = m.name; });
        this.catalog.teams.forEach(function (t) { names.team[t.id] = t.name; });
        this.catalog.channels.forEach(function (c) { names.channel[c.id] = c.name; });
        this.catalog.segments.forEach(function (s) { names.segment[s.id] = s.name; });
        return names;
      },

      nameOf: function (what, id) {
        var found = this.names[what] && this.names[what][id];
        return found || this.labels.deleted || id;
      },

      // -- the tree --------------------------------------------------------------------------------

      uid: function () { this.nextUid += 1; return "n" + this.nextUid; },

      load: function (documentJson) {
        var root = isObject(documentJson) && documentJson.root !== undefined ? documentJson.root : { all: [] };
        var tree = this.hydrate(root);
        if (tree.type !== "group") {
          tree = { uid: this.uid(), type: "group", match: "all", negate: false, children: [tree] };
        }
        this.tree = tree;
        var self = this;
        this.walk(this.tree, function (node) {
          if (node.type === "condition" && node.data.kind === "event") { self.loadKeys(node.data); }
        });
      },

      hydrate: function (raw) {
        var self = this;
        if (isObject(raw)) {
          if (raw.kind !== undefined) {
            return { uid: this.uid(), type: "condition", negate: false, data: copy(raw) };
          }
          var keys = Object.keys(raw);
          if (keys.length === 1 && keys[0] === "not") {
            var inner = this.hydrate(raw.not);
            inner.negate = !inner.negate;
            return inner;
          }
          if (keys.length === 1 && (keys[0] === "all" || keys[0] === "any") && Array.isArray(raw[keys[0]])) {
            return {
              uid: this.uid(), type: "group", match: keys[0], negate: false,
              children: raw[keys[0]].map(function (child) { return self.hydrate(child); })
            };
          }
        }
        // Something the builder cannot edit is kept as it is, so saving never loses it.
        return { uid: this.uid(), type: "condition", negate: false, data: { kind: "" }, unreadable: copy(raw) };
      },

      walk: function (node, visit) {
        visit(node);
        if (node.type === "group") {
          var self = this;
          node.children.forEach(function (child) { self.walk(child, visit); });
        }
      },

      rows: function () {
        var rows = [];
        function visit(node, depth, parent, index) {
          if (node.type === "group") {
            rows.push({ key: node.uid + ":open", role: "open", node: node, depth: depth, parent: parent, index: index });
            node.children.forEach(function (child, i) { visit(child, depth + 1, node, i); });
            rows.push({ key: node.uid + ":close", role: "close", node: node, depth: depth, parent: parent, index: index });
          } else {
            rows.push({ key: node.uid, role: "condition", node: node, depth: depth, parent: parent, index: index });
          }
        }
        if (this.tree) { visit(this.tree, 0, null, 0); }
        return rows;
      },

      addCondition: function (group) {
        group.children.push({ uid: this.uid(), type: "condition", negate: false, data: this.defaults("field") });
        this.changed();
      },

      addGroup: function (group) {
        group.children.push({
          uid: this.uid(), type: "group", match: group.match === "all" ? "any" : "all", negate: false,
          children: [{ uid: this.uid(), type: "condition", negate: false, data: this.defaults("field") }]
        });
        this.changed();
      },

      remove: function (parent, index) {
        if (parent) { parent.children.splice(index, 1); }
        this.changed();
      },

      // -- defaults and value shapes ----------------------------------------------------------------

      defaults: function (kind) {
        var catalog = this.catalog;
        switch (kind) {
          case "field":
            var city = catalog.fields.filter(function (f) { return f.name === "city"; })[0] || catalog.fields[0];
            return { kind: "field", field: city ? city.name : "", op: "eq", value: "" };
          case "tags": return { kind: "tags", op: "any", tags: [] };
          case "stage": return { kind: "stage", op: "at_least", value: "customer" };
          case "owner": return { kind: "owner", op: "in", members: [] };
          case "channel": return { kind: "channel", touch: "first", op: "in", channels: [] };
          case "identity":
            return { kind: "identity", op: "has", type: catalog.identityTypes.length ? catalog.identityTypes[0].value : "phone" };
          case "event":
            return { kind: "event", type: "track", name: "", where: [], window: { last: 7, unit: "days" },
              aggregate: "count", op: "gte", value: 1 };
          case "purchase": return { kind: "purchase", measure: "frequency", op: "gte", value: 2 };
          case "rfm": return { kind: "rfm", groups: [] };
          case "segment":
            return { kind: "segment", op: "in", segment: catalog.segments.length ? catalog.segments[0].id : "" };
        }
        return { kind: kind };
      },

      changeKind: function (node, kind) {
        node.data = this.defaults(kind);
        node.unreadable = undefined;
        this.changed();
      },

      isKnownKind: function (data) { return includes(KNOWN_KINDS, data.kind); },

      // field conditions

      fieldSpec: function (data) {
        return this.catalog.fields.filter(function (f) { return f.name === data.field; })[0] || null;
      },

      builtinFields: function () { return this.catalog.fields.filter(function (f) { return !f.custom; }); },
      customFields: function () { return this.catalog.fields.filter(function (f) { return f.custom; }); },

      fieldOps: function (data) {
        var spec = this.fieldSpec(data);
        return spec ? (this.catalog.ops[spec.type] || []) : [];
      },

      opLabel: function (op) { return this.catalog.opLabels[op] || op; },

      setField: function (data) {
        var ops = this.fieldOps(data);
        if (!includes(ops, data.op)) { data.op = ops[0]; }
        data.value = undefined;
        this.fitFieldValue(data);
      },

      fieldValueKind: function (data) {
        var spec = this.fieldSpec(data);
        var op = data.op;
        if (!spec || includes(NO_VALUE_OPS, op)) { return "none"; }
        var hasOptions = spec.options && spec.options.length > 0;
        if (spec.type === "number") { return op === "between" ? "pair-number" : "number"; }
        if (spec.type === "date" || spec.type === "datetime") {
          if (includes(DAY_OPS, op)) { return "days"; }
          return op === "between" ? "pair-date" : "date";
        }
        if (includes(LIST_OPS, op)) { return hasOptions ? "options" : "chips"; }
        if (spec.type === "choice" && hasOptions && (op === "eq" || op === "neq")) { return "option"; }
        return "text";
      },

      fitFieldValue: function (data) {
        var kind = this.fieldValueKind(data);
        var value = data.value;
        if (kind === "none") { delete data.value; return; }
        if (kind === "pair-number" || kind === "pair-date") {
          if (!Array.isArray(value) || value.length !== 2) { data.value = ["", ""]; }
          return;
        }
        if (kind === "chips" || kind === "options") {
          if (!Array.isArray(value)) { data.value = value !== undefined && value !== "" && value !== null ? [String(value)] : []; }
          return;
        }
        if (kind === "days") {
          if (typeof value !== "number") { data.value = 30; }
          return;
        }
        if (Array.isArray(value) || value === undefined || value === null) { data.value = ""; }
        if (kind === "date" && typeof value === "number") { data.value = ""; }
      },

      // pickers of ids and values

      toggle: function (list, value) {
        var at = list.indexOf(value);
        if (at === -1) { list.push(value); } else { list.splice(at, 1); }
        this.changed();
      },

      addFromSelect: function (data, key, event) {
        var value = event.target.value;
        if (!Array.isArray(data[key])) { data[key] = []; }
        if (value && !includes(data[key], value)) { data[key].push(value); }
        event.target.value = "";
        this.changed();
      },

      removeAt: function (list, index) {
        list.splice(index, 1);
        this.changed();
      },

      addChips: function (data, key, input) {
        var parts = String(input.value || "").split(/[,，、\n]/).map(function (part) { return part.trim(); });
        if (!Array.isArray(data[key])) { data[key] = []; }
        parts.forEach(function (part) {
          if (part && !includes(data[key], part)) { data[key].push(part); }
        });
        input.value = "";
        this.changed();
      },

      optionLabel: function (data, value) {
        var spec = this.fieldSpec(data);
        var option = spec && spec.options.filter(function (o) { return o.value === value; })[0];
        return option ? option.label : value;
      },

      // owner / stage / channel

      ownerNeeds: function (data) {
        if (data.op === "in" || data.op === "not_in") { return "members"; }
        if (data.op === "in_team" || data.op === "not_in_team") { return "teams"; }
        return "none";
      },

      fitOwner: function (data) {
        var needs = this.ownerNeeds(data);
        if (needs !== "members") { delete data.members; } else if (!Array.isArray(data.members)) { data.members = []; }
        if (needs !== "teams") { delete data.teams; } else if (!Array.isArray(data.teams)) { data.teams = []; }
      },

      fitStage: function (data) {
        var single = data.op === "at_least" || data.op === "below";
        if (single && typeof data.value !== "string") { data.value = "customer"; }
        if (!single && !Array.isArray(data.value)) { data.value = typeof data.value === "string" ? [data.value] : []; }
      },

      fitChannel: function (data) {
        if (data.op === "in" || data.op === "not_in") {
          if (!Array.isArray(data.channels)) { data.channels = []; }
        } else {
          delete data.channels;
        }
      },

      // events

      eventNames: function (data) {
        return this.catalog.eventNames.filter(function (e) { return e.type === data.type; });
      },

      keysFor: function (data) { return this.propertyKeys[data.type + "\n" + (data.name || "")] || []; },

      numericKeysFor: function (data) {
        return this.keysFor(data).filter(function (k) { return k.type === "number"; });
      },

      keyType: function (data, key) {
        var found = this.keysFor(data).filter(function (k) { return k.key === key; })[0];
        return found ? found.type : "";
      },

      loadKeys: function (data) {
        var cacheKey = data.type + "\n" + (data.name || "");
        if (this.propertyKeys[cacheKey] || !this.propertiesUrl) { return; }
        var self = this;
        var url = this.propertiesUrl + "?" + new URLSearchParams({ type: data.type, name: data.name || "" }).toString();
        fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
          .then(function (response) { return response.ok ? response.json() : { properties: [] }; })
          .then(function (body) {
            var next = Object.assign({}, self.propertyKeys);
            next[cacheKey] = body.properties || [];
            self.propertyKeys = next;
          })
          .catch(function () { /* the key can still be typed */ });
      },

      windowMode: function (data) {
        if (!isObject(data.window)) { return "ever"; }
        return data.window.last !== undefined ? "last" : "range";
      },

      setWindowMode: function (data, mode) {
        if (mode === "ever") { delete data.window; }
        if (mode === "last") { data.window = { last: 7, unit: "days" }; }
        if (mode === "range") { data.window = { from: isoDay(-30), to: isoDay(0) }; }
        this.changed();
      },

      eventOps: function (data) {
        return includes(MOMENT_AGGREGATES, data.aggregate) ? this.catalog.momentOps : this.catalog.comparisons;
      },

      needsProperty: function (data) { return includes(NUMERIC_AGGREGATES, data.aggregate); },

      eventValueKind: function (data) {
        if (includes(MOMENT_AGGREGATES, data.aggregate)) {
          return includes(DAY_OPS, data.op) ? "days" : "date";
        }
        return data.op === "between" ? "pair-number" : "number";
      },

      fitEvent: function (data) {
        if (!includes(this.eventOps(data), data.op)) {
          data.op = includes(MOMENT_AGGREGATES, data.aggregate) ? "within_last_days" : "gte";
        }
        if (this.needsProperty(data)) {
          if (typeof data.property !== "string") { data.property = ""; }
        } else {
          delete data.property;
        }
        var kind = this.eventValueKind(data);
        if (kind === "days" && typeof data.value !== "number") { data.value = 30; }
        if (kind === "date" && typeof data.value !== "string") { data.value = isoDay(-30); }
        if (kind === "number" && typeof data.value !== "number") { data.value = 1; }
        if (kind === "pair-number" && !Array.isArray(data.value)) { data.value = [1, 10]; }
      },

      addWhere: function (data) {
        if (!Array.isArray(data.where)) { data.where = []; }
        data.where.push({ property: "", op: "eq", value: "" });
        this.changed();
      },

      whereValueKind: function (filter) {
        if (filter.op === "is_set" || filter.op === "is_not_set") { return "none"; }
        if (filter.op === "in" || filter.op === "not_in") { return "chips"; }
        if (includes(NUMBER_OPS, filter.op)) { return "number"; }
        return "text";
      },

      fitWhere: function (filter) {
        var kind = this.whereValueKind(filter);
        if (kind === "none") { delete filter.value; }
        if (kind === "chips" && !Array.isArray(filter.value)) {
          filter.value = filter.value !== undefined && filter.value !== "" ? [String(filter.value)] : [];
        }
        if ((kind === "text" || kind === "number") && (Array.isArray(filter.value) || filter.value === undefined)) {
          filter.value = "";
        }
      },

      // purchases

      purchaseStep: function (data) { return data.measure === "monetary" ? "0.01" : "1"; },

      fitPurchase: function (data) {
        if (data.op === "between") {
          if (!Array.isArray(data.value)) { data.value = [0, 10]; }
        } else if (typeof data.value !== "number") {
          data.value = 1;
        }
      },

      // -- the document -----------------------------------------------------------------------------

      cleanCondition: function (data) {
        var clean = copy(data);
        if (clean.kind === "event" && Array.isArray(clean.where)) {
          var self = this;
          clean.where = clean.where.map(function (filter) {
            var out = copy(filter);
            if (includes(NUMBER_OPS, out.op)) {
              out.value = numberOrText(out.value);
            } else if (self.keyType(data, out.property) === "number") {
              out.value = Array.isArray(out.value) ? out.value.map(numberOrText) : numberOrText(out.value);
            }
            return out;
          });
        }
        return clean;
      },

      serialiseNode: function (node, path, paths) {
        var inner = node.negate ? path + ".not" : path;
        paths[node.uid] = inner;
        var body;
        if (node.type === "group") {
          var self = this;
          var key = node.match;
          body = {};
          body[key] = node.children.map(function (child, index) {
            return self.serialiseNode(child, inner + "." + key + "[" + index + "]", paths);
          });
        } else if (node.unreadable !== undefined) {
          body = copy(node.unreadable);
        } else {
          body = this.cleanCondition(node.data);
        }
        return node.negate ? { not: body } : body;
      },

      serialise: function () {
        var paths = {};
        var root = this.serialiseNode(this.tree, "root", paths);
        this.paths = paths;
        var text = JSON.stringify({ version: this.catalog.version || 1, root: root });
        if (this.$refs.rules) { this.$refs.rules.value = text; }
        return text;
      },

      applyErrors: function (errors) {
        var byNode = {};
        var general = [];
        var paths = this.paths;
        var labels = this.labels;
        Object.keys(errors).forEach(function (path) {
          var best = null;
          Object.keys(paths).forEach(function (uid) {
            var nodePath = paths[uid];
            var matches = path === nodePath || path.indexOf(nodePath + ".") === 0 || path.indexOf(nodePath + "[") === 0;
            if (matches && (best === null || nodePath.length > paths[best].length)) { best = uid; }
          });
          var message = errors[path];
          if (best === null || (paths[best] === "root" && path === "root")) {
            general.push(message);
            return;
          }
          var rest = path.slice(paths[best].length);
          var where = /^\.where\[(\d+)\]/.exec(rest);
          if (where) {
            message = (labels.whereFilter || "%(number)s").replace("%(number)s", String(Number(where[1]) + 1)) + "：" + message;
          } else if (rest.indexOf(".window") === 0) {
            message = (labels.window || "") + "：" + message;
          }
          (byNode[best] = byNode[best] || []).push(message);
        });
        this.errors = byNode;
        this.general = general;
      },

      errorOf: function (node) { return (this.errors[node.uid] || []).join(" "); },

      changed: function () {
        var self = this;
        clearTimeout(this.timer);
        this.timer = setTimeout(function () { self.preview(); }, DEBOUNCE_MS);
      },

      preview: function () {
        if (!this.previewUrl || !this.$refs.preview) { return; }
        var text = this.serialise();
        var sequence = ++this.sequence;
        var body = new URLSearchParams();
        body.set("rules", text);
        if (this.segmentId) { body.set("segment", this.segmentId); }
        var self = this;
        var target = this.$refs.preview;
        target.setAttribute("aria-busy", "true");
        fetch(this.previewUrl, {
          method: "POST",
          credentials: "same-origin",
          headers: { "X-CSRFToken": csrfToken(), "HX-Request": "true" },
          body: body
        })
          .then(function (response) {
            if (!response.ok) { throw new Error(String(response.status)); }
            return response.text();
          })
          .then(function (html) {
            if (sequence !== self.sequence) { return; }
            target.innerHTML = html;
            target.removeAttribute("aria-busy");
            if (window.htmx) { window.htmx.process(target); }
            var countEl = target.querySelector("[data-preview-count]");
            self.liveCount = countEl ? Number(countEl.getAttribute("data-preview-count")) : null;
            var errorsEl = target.querySelector("#preview-errors");
            self.applyErrors(errorsEl ? JSON.parse(errorsEl.textContent) : {});
          })
          .catch(function () {
            if (sequence !== self.sequence) { return; }
            target.removeAttribute("aria-busy");
            var note = document.createElement("div");
            note.className = "alert alert-warning mb-0";
            note.textContent = self.labels.previewFailed || "";
            target.replaceChildren(note);
          });
      },

      submit: function () {
        clearTimeout(this.timer);
        this.serialise();
      },

      // -- the JSON panel (for people who would rather type the rule) --------------------------------

      showRaw: function () {
        this.rawText = JSON.stringify(JSON.parse(this.serialise()), null, 2);
        this.rawError = "";
      },

      applyRaw: function () {
        var parsed;
        try { parsed = JSON.parse(this.rawText); } catch (error) { parsed = null; }
        if (!isObject(parsed) || parsed.root === undefined) {
          this.rawError = this.labels.badJson || "";
          return;
        }
        this.rawError = "";
        this.load(parsed);
        this.changed();
      }
    };
  }

  document.addEventListener("alpine:init", function () {
    window.Alpine.data("segmentBuilder", segmentBuilder);
  });
})();
