// cotation studio page: editor, debounced checks and previews, save. Every string is French.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const el = (tag, attrs, ...children) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v; else if (k === "text") e.textContent = v; else e.setAttribute(k, v);
    }
    for (const c of children) e.append(c);
    return e;
  };
  const nf = new Intl.NumberFormat("fr-FR");
  let reference = null;
  let editor = null, words = [], previewTimer = null, previewSeq = 0, dirty = false;

  async function post(path, body) {
    const r = await fetch(path, {method: "POST", headers: {"Content-Type": "application/json"},
                                 body: JSON.stringify(body)});
    const data = await r.json().catch(() => ({error: "réponse illisible du serveur"}));
    if (!r.ok) throw new Error(data.error || ("erreur " + r.status));
    return data;
  }

  function setStatus(text, cls) { const s = $("status"); s.textContent = text; s.className = cls || ""; }

  function showDiagnostics(diags) {
    const ul = $("diagnostics");
    ul.replaceChildren();
    if (!diags.length) { ul.append(el("li", {class: "none", text: "Aucun diagnostic : la grille est valide."})); return; }
    for (const d of diags) {
      const sev = d.severity === "warning" ? "avertissement" : "erreur";
      const go = el("button", {type: "button", class: "goto", text: `ligne ${d.line}, colonne ${d.column}`,
                               "aria-label": `Aller à la ligne ${d.line}, colonne ${d.column}`});
      go.addEventListener("click", () => gotoLine(d.line, d.column));
      const li = el("li", {class: d.severity, "data-code": d.code}, go, " ",
                    el("span", {class: "sev", text: `${sev} [${d.code}]`}),
                    d.criterion ? ` (${d.criterion})` : "", " : ", el("span", {class: "message", text: d.message}));
      if (d.suggestion) li.append(el("span", {class: "suggestion", text: d.suggestion}));
      ul.append(li);
    }
  }

  function gotoLine(line, column) {
    const v = editor.view, doc = v.state.doc;
    const l = doc.line(Math.min(Math.max(line, 1), doc.lines));
    const pos = Math.min(l.from + Math.max(column - 1, 0), l.to);
    v.dispatch({selection: {anchor: pos}, scrollIntoView: true});
    v.focus();
  }

  async function lint(text) {
    try {
      const r = await post("/api/validate", {text});
      return r.diagnostics.map((d) => ({line: d.line, column: d.column, severity: d.severity,
        message: `[${d.code}] ${d.message}` + (d.suggestion ? ` — ${d.suggestion}` : "")}));
    } catch (e) { return []; }
  }

  function renderCriteria(rows) {
    const tb = $("criteria").tBodies[0];
    tb.replaceChildren();
    for (const c of rows) {
      tb.append(el("tr", {"data-id": c.id},
        el("th", {scope: "row", text: `${c.label} [${c.id}]`}),
        el("td", {class: "num", text: nf.format(c.demandes)}), el("td", {class: "num", text: nf.format(c.pairs)}),
        el("td", {class: "num", text: c.points_total}), el("td", {class: "num", text: c.points_max ?? "—"})));
    }
  }

  function renderDistribution(communes) {
    const box = $("distribution"); box.replaceChildren();
    for (const c of communes) {
      const max = Math.max(1, ...c.distribution.map((b) => Math.max(b.count, b.reference || 0)));
      const div = el("div", {class: "commune", "data-commune": c.commune},
        el("h3", {text: `Commune ${c.commune} : ${nf.format(c.pairs)} demandes cotées, médiane ${c.median === null ? "—" : nf.format(c.median)} points`}));
      const list = el("ul", {class: "bars", "aria-label": `Répartition des cotations, commune ${c.commune}`});
      list.style.listStyle = "none"; list.style.padding = "0";
      for (const b of c.distribution) {
        const fill = el("span", {class: "fill"}); fill.style.width = (100 * b.count / max) + "%";
        const track = el("span", {"aria-hidden": "true", class: "track"}, fill);
        let count = nf.format(b.count);
        if (b.reference !== null && b.reference !== undefined) {
          const ref = el("span", {class: "ref"}); ref.style.width = (100 * b.reference / max) + "%";
          track.append(ref);
          if (b.reference !== b.count) count += ` (avant ${nf.format(b.reference)})`;
        }
        list.append(el("li", {class: "bar"}, el("span", {text: `${nf.format(b.from)} à ${nf.format(b.to)} points`}),
          track, el("span", {class: "count", text: count})));
      }
      div.append(list); box.append(div);
    }
  }

  function renderRanking(communes) {
    const box = $("ranking"); box.replaceChildren();
    const ids = $("explain-ids"); ids.replaceChildren();
    for (const c of communes) {
      const t = el("table", {}, el("caption", {text: `Commune ${c.commune} : tête du classement`}),
        el("thead", {}, el("tr", {}, el("th", {scope: "col", text: "Rang"}), el("th", {scope: "col", text: "Demande"}),
                                     el("th", {scope: "col", class: "num", text: "Points"}))));
      const tb = el("tbody");
      for (const r of c.top) {
        const b = el("button", {type: "button", class: "goto", text: r.numero_unique, "aria-label": `Expliquer la demande ${r.numero_unique}`});
        b.style.background = "none"; b.style.color = "var(--accent)"; b.style.border = "none";
        b.addEventListener("click", () => { $("explain-id").value = r.numero_unique; selectTab("tab-explain"); explain(); });
        tb.append(el("tr", {}, el("td", {text: String(r.rank)}), el("td", {}, b), el("td", {class: "num", text: r.score})));
        ids.append(el("option", {value: r.numero_unique}));
      }
      t.append(tb); box.append(el("div", {class: "commune"}, t));
    }
  }

  function renderComparison(cmp) {
    const box = $("comparison"); box.replaceChildren();
    if (!cmp) { box.append(el("p", {text: "La grille ne se validait pas à l'ouverture : pas de comparaison."})); return; }
    const t = cmp.territory;
    box.append(el("p", {id: "comparison-summary", text: cmp.identical ? (reference ? `Grille identique à ${reference}.` : "Grille identique à celle de l'ouverture.") :
      `${nf.format(t.moved_up)} demandes montent, ${nf.format(t.moved_down)} descendent (sur ${nf.format(t.pairs_both)} couples cotés par les deux versions).`}));
    const tb = el("tbody");
    for (const [c, b] of Object.entries(cmp.communes)) {
      tb.append(el("tr", {}, el("th", {scope: "row", text: c}), el("td", {class: "num up", text: nf.format(b.moved_up)}),
        el("td", {class: "num down", text: nf.format(b.moved_down)}), el("td", {class: "num", text: nf.format(b.pairs_both)})));
    }
    box.append(el("table", {}, el("caption", {class: "sr", text: "Mouvements par commune"}),
      el("thead", {}, el("tr", {}, el("th", {scope: "col", text: "Commune"}), el("th", {scope: "col", class: "num", text: "Montent"}),
        el("th", {scope: "col", class: "num", text: "Descendent"}), el("th", {scope: "col", class: "num", text: "Couples"}))), tb));
    const a = cmp.attributions;
    if (a) box.append(el("p", {id: "comparison-attributions", text:
      `Attributions de la période (${a.window.start} au ${a.window.end}) : ${nf.format(a.in_window)}, dont ${nf.format(a.scored)} ` +
      `demandes cotées ; rang médian à la date d'attribution ${a.median_rank_a ?? "—"} avec la grille de référence, ` +
      `${a.median_rank_b ?? "—"} avec la grille en cours ; ${nf.format(a.moved_up)} montent, ${nf.format(a.moved_down)} descendent.`}));
    if (!cmp.identical && t.spearman !== null && t.spearman !== undefined)
      box.append(el("p", {class: "note", text: `Corrélation des rangs (Spearman) : ${nf.format(t.spearman)}`}));
  }

  async function preview() {
    const seq = ++previewSeq, text = editor.getText(), t0 = performance.now();
    setStatus("Calcul…");
    try {
      const r = await post("/api/preview", {text});
      if (seq !== previewSeq) return;
      showDiagnostics(r.diagnostics);
      if (!r.valid) { setStatus(`Grille invalide : ${r.diagnostics.filter((d) => d.severity === "error").length} erreur(s)`, "error"); return; }
      renderCriteria(r.criteria); renderDistribution(r.communes); renderRanking(r.communes); renderComparison(r.comparison);
      setStatus(`Grille valide — ${nf.format(r.demandes)} demandes, ${nf.format(r.pairs)} couples cotés (${Math.round(performance.now() - t0)} ms)`, "ok");
    } catch (e) { if (seq === previewSeq) setStatus("Erreur : " + e.message, "error"); }
  }

  async function explain() {
    const id = $("explain-id").value.trim();
    if (!id) return;
    try {
      const r = await post("/api/explain", {text: editor.getText(), numero_unique: id});
      $("explanation").textContent = r.valid ? r.text : "La grille ne se valide pas : corrigez les erreurs d'abord.";
    } catch (e) { $("explanation").textContent = "Erreur : " + e.message; }
  }

  async function publication() {
    const msg = $("publication-message");
    try {
      const r = await post("/api/publication", {text: editor.getText()});
      if (!r.valid) { msg.textContent = "La grille ne se valide pas : corrigez les erreurs d'abord."; return; }
      if (r.html === null) {
        msg.textContent = r.message.charAt(0).toUpperCase() + r.message.slice(1) + ".";
        $("publication").srcdoc = ""; $("publication").hidden = true; return;
      }
      msg.textContent = ""; $("publication").hidden = false; $("publication").srcdoc = r.html;
    } catch (e) { msg.textContent = "Erreur : " + e.message; }
  }

  let saving = false;
  async function save() {
    const s = $("save-status");
    if (saving) return;            // one save at a time (double Ctrl-S)
    saving = true;
    const text = editor.getText();
    try {
      const r = await post("/api/save", {text});
      if (editor.getText() === text) dirty = false;   // typed during the save: still unsaved
      s.textContent = `Enregistré dans ${r.saved}` + (r.backup ? ` (version précédente : ${r.backup})` : "");
    } catch (e) { s.textContent = "Échec de l'enregistrement : " + e.message; }
    finally { saving = false; }
  }

  function selectTab(id) {
    for (const tab of document.querySelectorAll("[role=tab]")) {
      const on = tab.id === id;
      tab.setAttribute("aria-selected", String(on)); tab.tabIndex = on ? 0 : -1;
      $(tab.getAttribute("aria-controls")).hidden = !on;
      if (on) tab.focus();
    }
    if (id === "tab-publication") publication();
  }

  function setupTabs() {
    const tabs = [...document.querySelectorAll("[role=tab]")];
    tabs.forEach((tab, i) => {
      tab.addEventListener("click", () => selectTab(tab.id));
      tab.addEventListener("keydown", (ev) => {
        const d = ev.key === "ArrowRight" ? 1 : ev.key === "ArrowLeft" ? -1 : 0;
        if (d) { ev.preventDefault(); selectTab(tabs[(i + d + tabs.length) % tabs.length].id); }
      });
    });
  }

  async function start() {
    const r = await fetch("/api/state");
    const st = await r.json();
    words = st.words;
    reference = st.reference;
    if (reference) $("comparison-note").textContent = `Comparaison avec la grille ${reference} (--compare).`;
    $("files").textContent = `${st.grid.name} — ${st.demandes.name} (${nf.format(st.demandes.count)} demandes)` +
      (st.attributions ? ` — ${st.attributions}` : "") + ` — date de référence ${st.today}`;
    editor = window.CotationEditor.create($("editor"), {
      doc: st.grid.text, label: `Grille ${st.grid.name} (YAML)`, delay: 300, lint, words: () => words,
      onChange: () => { dirty = true; $("save-status").textContent = "Modifications non enregistrées."; clearTimeout(previewTimer); previewTimer = setTimeout(preview, 300); },
    });
    window.cotationStudio = {editor};  // for tests and the browser console
    setupTabs();
    $("save").addEventListener("click", save);
    $("publication-refresh").addEventListener("click", publication);
    $("explain-form").addEventListener("submit", (ev) => { ev.preventDefault(); explain(); });
    document.addEventListener("keydown", (ev) => {
      if ((ev.ctrlKey || ev.metaKey) && ev.key === "s") { ev.preventDefault(); save(); }
    });
    window.addEventListener("beforeunload", (ev) => { if (dirty) { ev.preventDefault(); ev.returnValue = ""; } });
    preview();
  }
  start().catch((e) => setStatus("Erreur au démarrage : " + e.message, "error"));
})();
