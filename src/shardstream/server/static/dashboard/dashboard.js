// shardstream dashboard: fetches /_shardstream/dashboard/data every second and redraws in place.
// Plain JavaScript, no libraries; charts are hand-drawn SVG.
(function () {
  "use strict";
  var DATA_URL = "/_shardstream/dashboard/data";
  var COLORS = ["var(--c1)", "var(--c2)", "var(--c3)", "var(--c4)", "var(--c5)", "var(--c6)"];
  var state = { region: null, seconds: 120, busy: false, failures: 0 };
  var $ = function (id) { return document.getElementById(id); };

  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function count(n) {
    if (n == null) return "–";
    if (Math.abs(n) >= 1e6) return (n / 1e6).toFixed(2) + "M";
    return Math.round(n).toLocaleString("en-US");
  }
  function rate(n) {
    if (n == null) return "–";
    if (Math.abs(n) >= 1e6) return (n / 1e6).toFixed(2) + "M";
    if (Math.abs(n) >= 1e4) return (n / 1e3).toFixed(1) + "k";
    return n % 1 === 0 ? String(n) : n.toFixed(1);
  }
  function bytes(n) {
    if (n == null) return "–";
    var units = ["B", "KB", "MB", "GB", "TB"], i = 0;
    while (Math.abs(n) >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i === 0 ? (n % 1 === 0 ? n : n.toFixed(1)) : n.toFixed(1)) + " " + units[i];
  }
  function millis(n) {
    if (n == null) return "–";
    if (n < 1000) return (n % 1 === 0 || n >= 10 ? Math.round(n) : n.toFixed(1)) + " ms";
    if (n < 60000) return (n / 1000).toFixed(1) + " s";
    return (n / 60000).toFixed(1) + " min";
  }
  function last(values) {
    for (var i = values.length - 1; i >= 0; i--) if (values[i] != null) return values[i];
    return null;
  }
  function mean(values, n) {
    var tail = values.slice(-n), s = 0;
    for (var i = 0; i < tail.length; i++) s += tail[i] || 0;
    return tail.length ? s / tail.length : 0;
  }
  function sum(values) { var s = 0; for (var i = 0; i < values.length; i++) s += values[i] || 0; return s; }
  function niceMax(v) {
    if (!(v > 0)) return 1;
    var p = Math.pow(10, Math.floor(Math.log10(v))), m = v / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
  }

  // A line chart: lines = [{label, values, color}], values one per second (null = no point).
  function chart(title, lines, fmt, seconds) {
    var W = 420, H = 150, L = 50, R = 6, T = 8, B = 18;
    var n = seconds, top = 0;
    lines.forEach(function (l) {
      l.values.forEach(function (v) { if (v != null && v > top) top = v; });
    });
    top = niceMax(top);
    var axis = function (v) { return v > 0 && v < 1 && fmt === count ? v.toFixed(1) : fmt(v); };
    var x = function (i) { return L + (n <= 1 ? 0 : (i * (W - L - R)) / (n - 1)); };
    var y = function (v) { return T + (H - T - B) * (1 - v / top); };
    var svg = '<svg class="plot" viewBox="0 0 ' + W + " " + H + '" role="img" aria-label="' + esc(title) + '">';
    [0, 0.5, 1].forEach(function (f) {
      var yy = y(top * f).toFixed(1);
      svg += '<line class="grid" x1="' + L + '" x2="' + (W - R) + '" y1="' + yy + '" y2="' + yy + '"/>';
      svg += '<text class="axis" x="' + (L - 5) + '" y="' + (+yy + 3) + '" text-anchor="end">' + esc(axis(top * f)) + "</text>";
    });
    svg += '<text class="axis" x="' + L + '" y="' + (H - 4) + '">-' + n + "s</text>";
    svg += '<text class="axis" x="' + (W - R) + '" y="' + (H - 4) + '" text-anchor="end">now</text>';
    lines.forEach(function (l, k) {
      var color = l.color || COLORS[k % COLORS.length], segs = [], cur = [];
      l.values.forEach(function (v, i) {
        if (v == null) { if (cur.length) segs.push(cur); cur = []; return; }
        cur.push([x(i), y(v)]);
      });
      if (cur.length) segs.push(cur);
      segs.forEach(function (seg) {
        var pts = seg.map(function (p) { return p[0].toFixed(1) + "," + p[1].toFixed(1); }).join(" ");
        if (seg.length > 1 && lines.length <= 2) {
          svg += '<polygon class="area" style="fill:' + color + '" points="' + seg[0][0].toFixed(1) + "," + y(0) + " " + pts + " " +
            seg[seg.length - 1][0].toFixed(1) + "," + y(0) + '"/>';
        }
        svg += seg.length > 1
          ? '<polyline class="line" style="stroke:' + color + '" points="' + pts + '"/>'
          : '<circle r="2" style="fill:' + color + '" cx="' + seg[0][0].toFixed(1) + '" cy="' + seg[0][1].toFixed(1) + '"/>';
      });
    });
    svg += "</svg>";
    var legend = lines.map(function (l, k) {
      return '<span style="--swatch:' + (l.color || COLORS[k % COLORS.length]) + '">' + esc(l.label) + " <b>" + esc(fmt(last(l.values))) + "</b></span>";
    }).join("");
    if (!lines.length) legend = '<span class="muted">no data</span>';
    return '<div class="chart"><div class="chart-title"><span>' + esc(title) + '</span><span class="legend">' + legend + "</span></div>" + svg + "</div>";
  }

  function tile(label, value, metric, raw, unit) {
    return '<div class="tile"><div class="label">' + esc(label) + '</div><div class="value" data-metric="' + metric +
      '" data-value="' + esc(raw == null ? "" : raw) + '">' + esc(value) + (unit ? '<span class="unit">' + esc(unit) + "</span>" : "") + "</div></div>";
  }

  function keyspace(shards) {
    var open = shards.filter(function (s) { return s.open; });
    var total = 340282366920938463463374607431768211455; // 2^128 - 1 (as a float: proportions only)
    return '<div class="keyspace" title="hash-key space of the open shards">' + open.map(function (s, k) {
      var w = ((Number(s.ending_hash_key) - Number(s.starting_hash_key)) / total) * 100;
      return '<div style="width:' + w.toFixed(3) + "%;background:" + COLORS[k % COLORS.length] + '" title="' + esc(s.id) + '"></div>';
    }).join("") + "</div>";
  }

  function shardTable(shards) {
    var rows = shards.map(function (s) {
      return '<tr class="' + (s.open ? "open" : "closed") + '" data-shard="' + esc(s.id) + '">' +
        '<td class="mono">' + esc(s.id) + "</td>" +
        '<td><span class="badge ' + (s.open ? "open" : "closed") + '" data-field="state">' + (s.open ? "OPEN" : "CLOSED") + "</span></td>" +
        '<td class="mono" title="' + esc(s.starting_hash_key) + " – " + esc(s.ending_hash_key) + '">' + esc(s.starting_hash_key) + "<br>" + esc(s.ending_hash_key) + "</td>" +
        '<td class="mono" data-field="parents">' + esc([s.parent, s.adjacent_parent].filter(Boolean).join(", ") || "–") + "</td>" +
        '<td class="mono" data-field="children">' + esc(s.children.join(", ") || "–") + "</td>" +
        '<td class="num" data-field="records">' + count(s.records) + "</td></tr>";
    }).join("");
    return "<table><thead><tr><th>Shard</th><th>State</th><th>Hash-key range</th><th>Parents</th><th>Children</th>" +
      '<th style="text-align:right">Records held</th></tr></thead><tbody>' + rows + "</tbody></table>";
  }

  function streamCard(region, s) {
    var se = s.series, t = s.totals, n = region.seconds;
    var open = s.shards.filter(function (x) { return x.open; }).length;
    var groups = Object.keys(s.consumer_lag).sort();
    var lagNow = groups.reduce(function (a, g) { return a + (last(s.consumer_lag[g]) || 0); }, 0);
    var stats =
      tile("Records in /s", rate(last(se.records_in)), "records_in_rate", last(se.records_in)) +
      tile("Records in (" + region.seconds + " s)", count(t.records_in), "records_in_total", t.records_in) +
      tile("Records out /s", rate(last(se.records_out)), "records_out_rate", last(se.records_out)) +
      tile("Bytes in /s", bytes(last(se.bytes_in)), "bytes_in_rate", last(se.bytes_in)) +
      tile("Bytes out /s", bytes(last(se.bytes_out)), "bytes_out_rate", last(se.bytes_out)) +
      tile("Iterator age (max)", millis(t.iterator_age_ms), "iterator_age_max", t.iterator_age_ms) +
      tile("Throttles (" + region.seconds + " s)", count(t.read_throttles + t.write_throttles), "throttles_total", t.read_throttles + t.write_throttles) +
      tile("Consumer lag", groups.length ? count(lagNow) : "–", "consumer_lag", groups.length ? lagNow : null, groups.length ? "records" : "");
    var charts =
      chart("Records / s", [{ label: "in", values: se.records_in }, { label: "out", values: se.records_out }], rate, n) +
      chart("Bytes / s", [{ label: "in", values: se.bytes_in }, { label: "out", values: se.bytes_out }], bytes, n) +
      chart("Iterator age (max)", [{ label: "age", values: se.iterator_age_ms, color: "var(--c4)" }], millis, n) +
      chart("Throttled requests / s", [{ label: "write", values: se.write_throttles, color: "var(--c5)" },
        { label: "read", values: se.read_throttles, color: "var(--c6)" }], rate, n) +
      chart("Consumer lag (records)", groups.map(function (g) { return { label: g, values: s.consumer_lag[g] }; }), count, n);
    return '<div class="card-head"><h3>' + esc(s.name) + '</h3><span class="badge ' + esc(s.status) + '">' + esc(s.status) + "</span>" +
      '<span class="muted">' + open + " open shard" + (open === 1 ? "" : "s") + " &middot; " + s.shards.length + " in all</span></div>" +
      '<div class="stats">' + stats + "</div>" + '<div class="charts">' + charts + "</div>" + keyspace(s.shards) +
      '<details class="shards" open><summary>Shards and lineage</summary>' + shardTable(s.shards) + "</details>";
  }

  function keyed(container, items, key, render, make) {
    // Update children of `container` in place, one per item (made once, keyed), in order.
    var seen = {};
    var empty = container.querySelector(".empty");
    if (items.length && empty) empty.remove();
    items.forEach(function (item) {
      var k = key(item);
      seen[k] = true;
      var el = container.querySelector('[data-key="' + CSS.escape(k) + '"]');
      if (!el) { el = make(item); el.setAttribute("data-key", k); container.appendChild(el); }
      var details = el.querySelector("details"), wasOpen = details ? details.open : true;
      el.innerHTML = render(item);
      var d2 = el.querySelector("details");
      if (d2) d2.open = wasOpen;
      container.appendChild(el);
    });
    Array.prototype.slice.call(container.children).forEach(function (el) {
      if (el.hasAttribute("data-key") && !seen[el.getAttribute("data-key")]) el.remove();
    });
    if (!items.length && !container.querySelector(".empty")) {
      container.insertAdjacentHTML("afterbegin", '<p class="empty">None.</p>');
    }
  }

  function div(cls, attrs) {
    return function (item) {
      var el = document.createElement("div");
      el.className = cls;
      Object.keys(attrs || {}).forEach(function (a) { el.setAttribute(a, attrs[a](item)); });
      return el;
    };
  }

  function render(data) {
    var select = $("region");
    var names = data.regions.map(function (r) { return r.region; });
    if (select.options.length !== names.length || names.some(function (n, i) { return select.options[i].value !== n; })) {
      select.innerHTML = names.map(function (n) { return "<option>" + esc(n) + "</option>"; }).join("");
      if (state.region && names.indexOf(state.region) >= 0) select.value = state.region;
    }
    var region = data.regions.filter(function (r) { return r.region === select.value; })[0] || data.regions[0];
    if (!region) return;
    state.region = region.region;
    region.seconds = data.seconds;

    var streams = region.streams, all = function (k) {
      return streams.reduce(function (a, s) { return a + (last(s.series[k]) || 0); }, 0);
    };
    var firing = region.alarms.filter(function (a) { return a.state === "ALARM"; }).length;
    $("overview").innerHTML =
      tile("Streams", count(streams.length), "streams", streams.length) +
      tile("Open shards", count(streams.reduce(function (a, s) { return a + s.shards.filter(function (x) { return x.open; }).length; }, 0)), "open_shards") +
      tile("Records in /s", rate(all("records_in")), "all_records_in_rate", all("records_in")) +
      tile("Records out /s", rate(all("records_out")), "all_records_out_rate", all("records_out")) +
      tile("Bytes in /s", bytes(all("bytes_in")), "all_bytes_in_rate", all("bytes_in")) +
      tile("Queues", count(region.queues.length), "queues", region.queues.length) +
      tile("Alarms firing", firing + " / " + region.alarms.length, "alarms_firing", firing);

    keyed($("alarms"), region.alarms, function (a) { return a.name; }, function (a) {
      var dims = Object.keys(a.dimensions || {}).map(function (k) { return k + "=" + a.dimensions[k]; }).join(", ");
      var el = document.querySelector('#alarms [data-key="' + CSS.escape(a.name) + '"]');
      if (el) el.className = "alarm " + a.state;
      return '<div class="name"><span>' + esc(a.name) + '</span><span class="badge ' + esc(a.state) + '" data-field="alarm-state">' + esc(a.state) + "</span></div>" +
        '<div class="what">' + esc(a.namespace) + " " + esc(a.metric) + (dims ? " {" + esc(dims) + "}" : "") + " " + esc(a.comparison) + " " + esc(a.threshold) + "</div>" +
        '<div class="reason" title="' + esc(a.reason) + '">' + esc(a.reason) + "</div>";
    }, function (a) { var el = div("alarm " + a.state)(a); el.setAttribute("data-alarm", a.name); return el; });

    keyed($("streams"), streams, function (s) { return s.name; }, function (s) { return streamCard(region, s); }, function (s) {
      var el = div("card stream")(s);
      el.setAttribute("data-stream", s.name);
      return el;
    });
    Array.prototype.forEach.call(document.querySelectorAll("#streams [data-stream]"), function (el) {
      el.setAttribute("data-start", region.start);
      el.setAttribute("data-end", region.end);
    });

    keyed($("queues"), region.queues, function (q) { return q.name; }, function (q) {
      return '<div class="card-head"><h3>' + esc(q.name) + "</h3></div>" + '<div class="stats">' +
        tile("In flight", count(q.in_flight), "in_flight", q.in_flight) + tile("Dead letters", count(q.dead_letters), "dead_letters", q.dead_letters) +
        '</div><div class="charts">' + chart("Queue depth", [{ label: "in flight", values: q.series.in_flight },
          { label: "dead letters", values: q.series.dead_letters, color: "var(--c5)" }], count, region.seconds) + "</div>";
    }, function (q) { var el = div("card queue")(q); el.setAttribute("data-queue", q.name); return el; });
  }

  function setStatus(kind, text) {
    $("status").setAttribute("data-state", kind);
    $("status-text").textContent = text;
  }

  function tick() {
    if (state.busy) return;
    state.busy = true;
    fetch(DATA_URL + "?seconds=" + state.seconds, { cache: "no-store" })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
      .then(function (data) {
        render(data);
        state.failures = 0;
        document.body.setAttribute("data-updated", String(Date.now()));
        setStatus("live", "live · " + new Date().toLocaleTimeString());
      })
      .catch(function (e) {
        state.failures++;
        setStatus("error", "disconnected (" + e.message + ")");
      })
      .then(function () { state.busy = false; });
  }

  $("window").addEventListener("change", function (e) { state.seconds = +e.target.value; tick(); });
  $("region").addEventListener("change", function (e) { state.region = e.target.value; tick(); });
  tick();
  setInterval(tick, 1000);
})();
