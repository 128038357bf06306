// Editor component of cotation studio: CodeMirror 6 with YAML mode, lint and autocomplete.
// Exposes window.CotationEditor.create(parent, options); the page (app.js) does the rest.
import {EditorView, keymap, lineNumbers, highlightActiveLine, drawSelection} from "@codemirror/view";
import {EditorState} from "@codemirror/state";
import {defaultKeymap, history, historyKeymap, indentWithTab} from "@codemirror/commands";
import {yaml} from "@codemirror/lang-yaml";
import {syntaxHighlighting, defaultHighlightStyle, indentOnInput, bracketMatching} from "@codemirror/language";
import {linter, lintGutter, lintKeymap, forceLinting} from "@codemirror/lint";
import {autocompletion, completionKeymap, closeBrackets} from "@codemirror/autocomplete";
import {searchKeymap, highlightSelectionMatches} from "@codemirror/search";

function wordBefore(context) {
  return context.matchBefore(/[A-Za-z_][A-Za-z0-9_.]*/);
}

// options: {doc, label, onChange(text), lint(text) -> Promise<[{line, column, severity, message}]>,
//           words() -> [{label, type, detail}], delay}
function create(parent, options) {
  const completionSource = (context) => {
    const word = wordBefore(context);
    if (!word && !context.explicit) return null;
    return {from: word ? word.from : context.pos, options: options.words(), validFor: /^[A-Za-z0-9_.]*$/};
  };
  const lintSource = async (view) => {
    const text = view.state.doc.toString();
    const found = await options.lint(text);
    const doc = view.state.doc;
    if (doc.toString() !== text) return [];
    return found.map((d) => {
      const ln = doc.line(Math.min(Math.max(d.line || 1, 1), doc.lines));
      const from = Math.min(ln.from + Math.max((d.column || 1) - 1, 0), ln.to);
      const m = /^[A-Za-z0-9_.\-]+/.exec(doc.sliceString(from, ln.to));
      const to = m ? from + m[0].length : ln.to;
      return {from, to: Math.max(to, from), severity: d.severity === "warning" ? "warning" : "error",
              message: d.message};
    });
  };
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc: options.doc,
      extensions: [
        lineNumbers(), history(), drawSelection(), indentOnInput(), bracketMatching(),
        closeBrackets(), highlightActiveLine(), highlightSelectionMatches(),
        syntaxHighlighting(defaultHighlightStyle, {fallback: true}), yaml(),
        lintGutter(), linter(lintSource, {delay: options.delay || 300}),
        autocompletion({override: [completionSource]}),
        keymap.of([...defaultKeymap, ...historyKeymap, ...lintKeymap, ...completionKeymap,
                   ...searchKeymap, indentWithTab]),
        EditorView.contentAttributes.of({"aria-label": options.label || "Grille", "aria-multiline": "true"}),
        EditorView.updateListener.of((u) => { if (u.docChanged) options.onChange(u.state.doc.toString()); }),
      ],
    }),
  });
  return {
    view,
    getText: () => view.state.doc.toString(),
    setText: (text) => view.dispatch({changes: {from: 0, to: view.state.doc.length, insert: text}}),
    relint: () => forceLinting(view),
    focus: () => view.focus(),
  };
}

window.CotationEditor = {create};
