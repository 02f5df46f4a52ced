// The dashboard's script, inline and dependency-free. Every value from the gateway (events carry
// attacker-chosen strings: kid, iss, path) reaches the page through textContent, never as HTML.
// Written without template literals so that it can live in this String.raw literal.
export const DASHBOARD_JS = String.raw`
(function () {
  'use strict';
  var csrf = document.querySelector('meta[name="provgate-csrf"]').getAttribute('content');
  // What the role may not do is not offered; the server refuses it anyway (403 insufficient_role).
  var canChange = document.querySelector('meta[name="provgate-role"]').getAttribute('content') === 'operator';
  var SVG = 'http://www.w3.org/2000/svg';
  var MAX_EVENTS = 500;
  var lastSeq = 0;
  var events = [];
  var cache = {};
  var latest = null;
  var toastTimer = null;
  var busy = false;

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v === undefined || v === null) return;
        if (k === 'text') node.textContent = String(v);
        else if (k === 'class') node.className = v;
        else if (k.indexOf('on') === 0) node.addEventListener(k.slice(2), v);
        else node.setAttribute(k, String(v));
      });
    }
    (children || []).forEach(function (c) {
      if (c === null || c === undefined) return;
      node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    });
    return node;
  }
  function svg(tag, attrs, children) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, String(attrs[k])); });
    (children || []).forEach(function (c) { node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return node;
  }
  function badge(kind, text) { return el('span', { class: 'badge b-' + kind, text: text || kind.replace('_', ' ') }); }
  function put(id, node) { document.getElementById(id).replaceChildren(node); }
  function changed(key, value) {
    var s = JSON.stringify(value);
    if (cache[key] === s) return false;
    cache[key] = s;
    return true;
  }
  function iso(ms) { return ms ? new Date(ms).toISOString().replace('T', ' ').slice(0, 19) + 'Z' : ''; }
  function shortIso(text) { return text ? iso(Date.parse(text)) : ''; }
  function ago(ms, now) {
    if (!ms) return 'never';
    var s = Math.max(0, Math.round((now - ms) / 1000));
    if (s < 60) return s + ' s ago';
    if (s < 3600) return Math.round(s / 60) + ' min ago';
    if (s < 86400) return Math.round(s / 3600) + ' h ago';
    return Math.round(s / 86400) + ' d ago';
  }
  function toast(message, isError) {
    var t = document.getElementById('toast');
    t.textContent = message;
    t.className = 'toast show' + (isError ? ' error' : '');
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { t.className = 'toast'; }, 4000);
  }
  function api(method, path, body) {
    var headers = { 'x-provgate-csrf': csrf };
    if (body !== undefined) headers['content-type'] = 'application/json';
    return fetch(path, {
      method: method,
      headers: headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (res) {
      if (res.status === 401) { window.location.href = '/dashboard'; throw new Error('session ended'); }
      return res.json().then(function (json) { return { status: res.status, body: json }; });
    });
  }
  function table(headers, rows, empty, cls) {
    if (rows.length === 0) return el('div', { class: 'empty', text: empty });
    return el('table', { class: cls }, [
      el('thead', null, [el('tr', null, headers.map(function (h) { return el('th', { text: h }); }))]),
      el('tbody', null, rows)
    ]);
  }
  function td(content, cls) {
    return typeof content === 'string' || typeof content === 'number'
      ? el('td', { class: cls, text: String(content) })
      : el('td', { class: cls }, [content]);
  }

  function renderHeader(s) {
    if (!changed('header', [s.status, s.store])) return;
    var store = s.store;
    put('status', el('span', null, [
      badge(s.status.state, s.status.state.replace('_', ' ')), ' ',
      badge(store.available ? 'up' : 'down', 'store ' + store.kind + (store.available ? '' : ' unavailable'))
    ]));
    var notes = s.status.problems.concat(s.status.degraded);
    document.getElementById('status').title = notes.join('\n');
  }

  function renderKpis(s) {
    var r = s.rates;
    var lastRate = r.length ? r[r.length - 1] : { requests: 0, refusals: 0 };
    var critical = 0;
    r.slice(-300).forEach(function (x) { critical += x.critical; });
    var values = [
      ['Requests / s', lastRate.requests, false],
      ['Refusals / s', lastRate.refusals, lastRate.refusals > 0],
      ['Critical, last 5 min', critical, critical > 0],
      ['Revocations in force', s.revocations.length, false],
      ['Active blocks', s.blocks === null ? 'n/a' : s.blocks.length, s.blocks !== null && s.blocks.length > 0]
    ];
    if (!changed('kpis', values)) return;
    put('kpis', el('div', { class: 'grid kpis' }, values.map(function (v) {
      return el('div', { class: 'card kpi' }, [
        el('div', { class: 'label', text: v[0] }),
        el('div', { class: 'value' + (v[2] ? ' bad' : ''), text: String(v[1]) })
      ]);
    })));
  }

  function chart(id, samples, series) {
    var host = document.getElementById(id);
    var W = Math.max(300, Math.round(host.clientWidth || 600));
    var H = 120, left = 36, bottom = 16, top = 8, slots = 120;
    var data = samples.slice(-slots);
    var max = 1;
    data.forEach(function (d) { series.forEach(function (s) { if (d[s.key] > max) max = d[s.key]; }); });
    var nice = Math.pow(10, Math.floor(Math.log10(max)));
    max = Math.ceil(max / nice) * nice;
    var plotW = W - left - 4, plotH = H - top - bottom;
    function x(i) { return left + plotW * (i + slots - data.length) / (slots - 1); }
    function y(v) { return top + plotH - plotH * v / max; }
    var root = svg('svg', { class: 'chart', viewBox: '0 0 ' + W + ' ' + H, role: 'img' });
    [0, 0.5, 1].forEach(function (f) {
      root.appendChild(svg('line', { x1: left, x2: W - 4, y1: y(max * f), y2: y(max * f), stroke: '#e2e7ee' }));
      root.appendChild(svg('text', { x: left - 6, y: y(max * f) + 3, 'text-anchor': 'end', class: 'axis' }, [String(Math.round(max * f * 10) / 10)]));
    });
    root.appendChild(svg('text', { x: left, y: H - 3, class: 'axis' }, ['-2 min']));
    root.appendChild(svg('text', { x: W - 4, y: H - 3, 'text-anchor': 'end', class: 'axis' }, ['now']));
    series.forEach(function (s) {
      if (data.length < 2) return;
      var points = data.map(function (d, i) { return x(i).toFixed(1) + ',' + y(d[s.key]).toFixed(1); });
      if (s.fill) {
        var area = 'M' + x(0).toFixed(1) + ',' + y(0) + ' L' + points.join(' L') + ' L' + x(data.length - 1).toFixed(1) + ',' + y(0) + ' Z';
        root.appendChild(svg('path', { d: area, fill: s.color, 'fill-opacity': 0.12, stroke: 'none' }));
      }
      root.appendChild(svg('polyline', { points: points.join(' '), fill: 'none', stroke: s.color, 'stroke-width': 1.6, 'stroke-linejoin': 'round' }));
    });
    host.replaceChildren(root);
  }

  function renderCharts(s) {
    if (!changed('rates', s.rates.length ? [s.rates.length, s.rates[s.rates.length - 1]] : [])) return;
    chart('chart-requests', s.rates, [{ key: 'requests', color: '#2f6fb2', fill: true }]);
    chart('chart-refusals', s.rates, [
      { key: 'refusals', color: '#b7791f', fill: true },
      { key: 'high', color: '#c53030' },
      { key: 'critical', color: '#8b1538' }
    ]);
  }

  function keyRange(issuers, now) {
    var year = 365 * 86400000;
    var lo = now - year, hi = now + year / 2;
    issuers.forEach(function (i) {
      i.keys.forEach(function (k) {
        if (k.notBefore && k.notBefore < lo) lo = k.notBefore;
        if (k.notAfter && k.notAfter > hi) hi = k.notAfter;
      });
    });
    var pad = (hi - lo) * 0.03;
    return { lo: lo - pad, hi: hi + pad };
  }
  var STATE_COLOR = { active: '#1e8e5a', inactive: '#b7791f', retiring: '#b7791f', revoked: '#8b1538', quarantined: '#8b1538' };
  function timeline(k, range, now) {
    var W = 300;
    function x(ms) { return Math.max(0, Math.min(W, W * (ms - range.lo) / (range.hi - range.lo))); }
    var from = k.notBefore || range.lo, to = k.notAfter || range.hi;
    var root = svg('svg', { class: 'timeline', viewBox: '0 0 ' + W + ' 18', preserveAspectRatio: 'none' });
    root.appendChild(svg('rect', { x: 0, y: 8, width: W, height: 2, fill: '#e2e7ee' }));
    root.appendChild(svg('rect', {
      x: x(from), y: 4, width: Math.max(2, x(to) - x(from)), height: 10, rx: 2,
      fill: STATE_COLOR[k.state] || '#5d6b7c', 'fill-opacity': k.notBefore && k.notAfter ? 0.85 : 0.45
    }, [svg('title', {}, [(k.notBefore ? iso(k.notBefore) : 'open') + ' .. ' + (k.notAfter ? iso(k.notAfter) : 'open')])]));
    root.appendChild(svg('rect', { x: x(now) - 1, y: 0, width: 2, height: 18, fill: '#c53030' }));
    return root;
  }

  function renderIssuers(s) {
    if (!changed('issuers', [s.issuers, Math.floor(s.now / 5000)])) return;
    var range = keyRange(s.issuers, s.now);
    var head = new Date(range.lo).getUTCFullYear() + ' \u2013 ' + new Date(range.hi).getUTCFullYear() + ' (red: now)';
    var blocks = s.issuers.map(function (issuer) {
      var rows = issuer.keys.map(function (k) {
        var revoke = canChange ? el('button', {
          class: 'danger', text: 'Revoke', 'data-kid': k.kid, 'data-issuer': issuer.id,
          onclick: function () { revokeKey(issuer.id, k.kid); }
        }) : el('span', { 'data-kid': k.kid });
        if (canChange && k.state === 'revoked') revoke.disabled = true;
        // Trust decisions name the key material: the button sends the thumbprint shown here.
        var decide = !canChange ? null : k.trust === 'trusted'
          ? el('button', { text: 'Distrust', 'data-trust': 'distrust', onclick: function () { decideKey(issuer.id, k, 'distrust'); } })
          : el('button', { text: 'Trust', 'data-trust': 'trust', onclick: function () { decideKey(issuer.id, k, 'trust'); } });
        if (decide && k.trust === 'not_pinned') decide.disabled = true;
        return el('tr', null, [
          td(k.kid, 'mono'),
          td([k.kty, k.crv, k.alg].filter(Boolean).join(' ')),
          td(el('span', null, [badge(k.state), k.trust && k.trust !== 'trusted' ? ' ' : null, k.trust && k.trust !== 'trusted' ? badge('quarantined', k.trust.replace('_', ' ')) : null])),
          td(el('span', { class: 'mono muted', text: (k.notBefore ? iso(k.notBefore).slice(0, 10) : 'open') + ' .. ' + (k.notAfter ? iso(k.notAfter).slice(0, 10) : 'open') })),
          td(timeline(k, range, s.now)),
          td(el('span', { class: k.lastSeen ? '' : 'muted', text: ago(k.lastSeen, s.now) })),
          td(el('span', null, [revoke, decide ? ' ' : null, decide]))
        ]);
      });
      return el('div', { class: 'issuer', 'data-issuer': issuer.id }, [
        el('div', { class: 'issuer-head' }, [
          el('strong', { text: issuer.id }),
          el('span', { class: 'mono muted', text: issuer.iss }),
          badge('neutral', issuer.role),
          issuer.loaded ? null : badge('not_ready', 'keys not loaded'),
          issuer.lastError ? el('span', { class: 'muted', text: 'last refresh failed: ' + issuer.lastError }) : null,
          el('span', { class: 'muted', text: issuer.source })
        ]),
        table(['Key', 'Type', 'State', 'Validity', 'Window ' + head, 'Last signed', ''], rows, 'no keys', 'keys')
      ]);
    });
    put('issuers', el('div', null, blocks));
  }

  function describeRevocation(r) {
    if (r.kind === 'key') return 'key ' + r.kid + ' of ' + r.issuer;
    if (r.kind === 'token') return 'token ' + r.jti + ' of ' + r.issuer;
    if (r.kind === 'subject') return 'subject ' + r.sub + ' of ' + r.issuer + ' before ' + shortIso(r.before);
    return 'every token of ' + r.issuer + ' before ' + shortIso(r.before);
  }

  /** What a revocation took down besides: the live tokens minted from the ones it reaches. */
  function tookDown(n) {
    if (typeof n !== 'number') return '';
    return ' \u00b7 took down ' + n + ' minted token' + (n === 1 ? '' : 's');
  }

  function renderRevocations(s) {
    if (!changed('revocations', [s.revocations, s.audit])) return;
    document.getElementById('revocation-count').textContent = '(' + s.revocations.length + ')';
    var counted = s.revocations.some(function (r) { return typeof r.descendants === 'number'; });
    var rows = s.revocations.map(function (r) {
      return el('tr', { 'data-revocation': r.id }, [
        td(badge('neutral', r.kind)), td(describeRevocation(r)), td(r.reason || ''),
        td(r.by + (r.byIssuer ? '@' + r.byIssuer : '') + ' (' + r.source + ')'), td(shortIso(r.at), 'mono'),
        counted ? td(typeof r.descendants === 'number' ? String(r.descendants) : '', 'mono descendants') : null,
        td(r.id, 'mono muted')
      ]);
    });
    var audit = s.audit.map(function (a) {
      var what = a.record ? describeRevocation(a.record) : (a.id || '');
      return el('tr', null, [td(badge(a.op === 'add' ? 'high' : 'ready', a.op === 'add' ? 'revoked' : 'lifted')), td(what), td(a.by || ''), td(shortIso(a.at), 'mono')]);
    });
    put('revocations', el('div', null, [
      table(counted ? ['Kind', 'What', 'Reason', 'By', 'At', 'Minted tokens down', 'Id'] : ['Kind', 'What', 'Reason', 'By', 'At', 'Id'], rows, 'nothing revoked'),
      el('h3', { text: 'Audit trail' + (s.auditSource === 'records' ? ' (records in force; this store keeps no removal history)' : ' (newest first)') }),
      table(['Change', 'What', 'By', 'At'], audit, 'no audit records')
    ]));
  }

  function renderBlocks(s) {
    if (!changed('blocks', [s.blocks, Math.floor(s.now / 5000)])) return;
    if (s.blocks === null) {
      put('blocks', el('div', { class: 'empty', text: 'Protection rules are not configured on this gateway.' }));
      return;
    }
    var rows = s.blocks.map(function (b) {
      return el('tr', { 'data-block': b.id, title: 'refused as ' + b.reason + ', decided by ' + b.by + ' at ' + shortIso(b.at) }, [
        td(badge('neutral', b.target)), td(b.value, 'mono'), td(b.rule, 'mono'),
        td(iso(b.expiresAt).slice(5, 16) + ' (' + Math.max(0, Math.round((b.expiresAt - s.now) / 60000)) + ' min)', 'mono'),
        td(canChange ? el('button', { class: 'danger', text: 'Lift', onclick: function () { liftBlock(b); } }) : '')
      ]);
    });
    put('blocks', table(['Target', 'Value', 'Rule', 'Until', ''], rows, 'no active blocks', 'blocks'));
  }

  function renderSignals(s) {
    if (!changed('signals', [s.signals, Math.floor(s.now / 5000)])) return;
    if (s.signals === null || s.signals === undefined) {
      put('signals', el('div', { class: 'empty', text: 'No shared-signals transmitter is configured on this gateway.' }));
      return;
    }
    var rows = s.signals.map(function (t) {
      return el('tr', { 'data-transmitter': t.name, title: t.issuer + ' governs ' + t.governs.join(', ') }, [
        td(t.name, 'mono'), td(t.delivery),
        td(badge(t.up ? 'up' : 'down', 'stream ' + (t.stream || 'enabled'))),
        td(t.lastEventAt ? t.lastEvent + ' at ' + shortIso(t.lastEventAt) : 'none yet', 'mono'),
        td(t.lastError ? t.lastError + ' at ' + shortIso(t.lastErrorAt) : '', 'mono')
      ]);
    });
    put('signals', table(['Transmitter', 'Delivery', 'Stream', 'Last event', 'Last error'], rows, 'no transmitters', 'signals'));
  }

  var RANK = { low: 0, high: 1, critical: 2 };
  function kindOf(e) { return e.reason || e.rule || e.event; }
  function renderEvents() {
    var sev = document.getElementById('f-severity').value;
    var reasonSel = document.getElementById('f-reason');
    var kinds = {};
    events.forEach(function (e) { kinds[kindOf(e.event)] = true; });
    var names = Object.keys(kinds).sort();
    if (changed('reason-options', names)) {
      var keep = reasonSel.value;
      reasonSel.replaceChildren(el('option', { value: '', text: 'all reasons' }));
      names.forEach(function (n) { reasonSel.appendChild(el('option', { value: n, text: n })); });
      reasonSel.value = names.indexOf(keep) >= 0 ? keep : '';
    }
    var reason = reasonSel.value;
    var shown = events.filter(function (e) {
      return (!sev || RANK[e.event.severity] >= RANK[sev]) && (!reason || kindOf(e.event) === reason);
    }).slice(-200).reverse();
    if (!changed('events', [shown.length ? shown[0].seq : 0, shown.length, sev, reason])) return;
    document.getElementById('event-count').textContent = '(' + shown.length + ' of ' + events.length + ')';
    var rows = shown.map(function (item) {
      var e = item.event;
      var refused = e.event === 'auth.refused';
      var adminEvent = e.event.indexOf('admin.') === 0;
      var anomaly = e.event === 'anomaly';
      var detail = refused
        ? (e.signatureValid === true ? 'FORGERY CONFIRMED \u00b7 ' : e.signatureValid === false ? 'probe \u00b7 ' : '') + e.method + ' ' + e.path
        : adminEvent
          ? e.event.slice(6).replace(/_/g, ' ') + (e.by ? ' \u00b7 ' + e.by : '') + (e.method ? ' \u00b7 ' + e.method + ' ' + e.path : '')
          : anomaly
            ? (e.action || '') + ' (' + (e.mode || '') + ')' + (e.subject ? ' subject ' + e.subject : '')
            : noticeDetail(e);
      var child = e.child && typeof e.child === 'object' ? e.child : {};
      return el('tr', { 'data-severity': e.severity, 'data-event': e.event }, [
        td(iso(item.time), 'mono'), td(badge(e.severity)),
        td(refused ? 'refused' : anomaly ? 'anomaly' : e.event.split('.')[0]),
        td(refused || adminEvent ? (e.reason || '') : anomaly ? e.rule : (e.rule || e.reason || e.event), 'mono'), td(e.route || ''),
        td(refused || adminEvent ? (e.ip || '') : e.ip || (e.addresses || []).slice(0, 3).join(', '), 'mono'),
        td(e.issuerId || e.claimedIssuer || e.issuer || child.issuer || e.transmitter || '', 'mono'), td(e.kid || child.kid || '', 'mono'), td(detail)
      ]);
    });
    put('events', table(['Time', 'Severity', 'Event', 'Reason / rule', 'Route', 'Client', 'Issuer', 'Key', 'Detail'], rows, 'no security events', 'events'));
  }

  /** The detail column of a key, lineage, signal or tunnel event: who, what, from what. */
  function noticeDetail(e) {
    var parts = [];
    if (e.event === 'token.minted' && e.child && e.parent)
      parts.push((e.child.kind || 'token') + ' ' + e.child.fingerprint + ' minted from ' + e.parent.fingerprint + ' of ' + e.parent.issuer);
    if (e.state) parts.push(e.state);
    if (e.by) parts.push('by ' + e.by);
    if (e.summary) parts.push(e.summary);
    if (e.err) parts.push(e.err + (e.description ? ': ' + e.description : ''));
    if (e.why) parts.push(e.why);
    if (e.event === 'tunnel.closed') parts.push('open ' + e.openSeconds + ' s');
    if (e.note) parts.push(e.note);
    return parts.join(' \u00b7 ');
  }

  function revokeKey(issuer, kid) {
    var ok = window.confirm('Revoke key ' + kid + ' of issuer ' + issuer + '?\n\nEvery token signed with it will be refused by every instance. It can be lifted later from the admin API or CLI.');
    if (!ok) return;
    api('POST', '/revocations', { kind: 'key', issuer: issuer, kid: kid, reason: 'revoked from the dashboard' })
      .then(function (res) {
        if (res.status === 200 || res.status === 201) { toast('Revoked key ' + kid + ' of ' + issuer + tookDown(res.body.descendants)); poll(); }
        else toast('Not revoked: ' + (res.body.message || res.body.error || res.status), true);
      })
      .catch(function (err) { toast('Not revoked: ' + err.message, true); });
  }

  function decideKey(issuer, k, action) {
    var ok = window.confirm((action === 'trust' ? 'Trust' : 'Distrust') + ' key ' + k.kid + ' of issuer ' + issuer + '?\n\nThumbprint ' + k.thumbprint + '\n\n' +
      (action === 'trust' ? 'Every instance will accept tokens it signs.' : 'Every instance will refuse tokens it signs (key_quarantined).'));
    if (!ok) return;
    api('POST', '/keys/' + encodeURIComponent(issuer) + '/' + encodeURIComponent(k.kid) + '/' + action, { thumbprint: k.thumbprint, note: 'from the dashboard' })
      .then(function (res) {
        if (res.status === 200 || res.status === 201) { toast((action === 'trust' ? 'Trusted' : 'Distrusted') + ' key ' + k.kid + ' of ' + issuer); poll(); }
        else toast('Not decided: ' + (res.body.message || res.body.error || res.status), true);
      })
      .catch(function (err) { toast('Not decided: ' + err.message, true); });
  }

  function liftBlock(b) {
    var ok = window.confirm('Lift the ' + b.rule + ' block on ' + b.target + ' ' + b.value + '?\n\nEvery instance will serve it again.');
    if (!ok) return;
    api('DELETE', '/blocks/' + encodeURIComponent(b.id))
      .then(function (res) {
        if (res.status === 200) { toast('Lifted block ' + b.id); poll(); }
        else toast('Not lifted: ' + (res.body.message || res.body.error || res.status), true);
      })
      .catch(function (err) { toast('Not lifted: ' + err.message, true); });
  }

  function poll() {
    if (busy) return;
    busy = true;
    api('GET', '/dashboard/api/state?after=' + lastSeq)
      .then(function (res) {
        if (res.status !== 200) throw new Error('state ' + res.status);
        var s = res.body;
        latest = s;
        if (s.events.latestSeq < lastSeq) events = [];
        events = events.concat(s.events.items).slice(-MAX_EVENTS);
        lastSeq = s.events.latestSeq;
        renderHeader(s);
        renderKpis(s);
        renderCharts(s);
        renderIssuers(s);
        renderRevocations(s);
        renderBlocks(s);
        renderSignals(s);
        renderEvents();
        document.getElementById('updated').textContent = 'updated ' + iso(s.now).slice(11);
      })
      .catch(function (err) { document.getElementById('updated').textContent = 'not updated: ' + err.message; })
      .then(function () { busy = false; });
  }

  document.getElementById('f-severity').addEventListener('change', renderEvents);
  document.getElementById('f-reason').addEventListener('change', renderEvents);
  document.getElementById('logout').addEventListener('click', function () {
    api('POST', '/dashboard/logout').then(function () { window.location.href = '/dashboard'; });
  });
  window.addEventListener('resize', function () { cache.rates = ''; if (latest) renderCharts(latest); });
  poll();
  setInterval(poll, 1000);
})();
`;
