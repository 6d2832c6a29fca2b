// Keyboard shortcuts of the editor (app/ui_keys.py): each key clicks the button it stands for,
// so a key does exactly what the click does. Run once per page load.
() => {
  if (window.cntrlKeys) return;
  window.cntrlKeys = true;
  const mac = /Mac|iPhone|iPad/.test(navigator.platform);
  const plain = new Set(["checkbox", "radio", "range", "button", "submit", "reset", "file", "color"]);

  // A box the writer types in: there Ctrl+Z and Ctrl+Y undo and redo the typing, as usual.
  const editable = (el) => !!el && (el.isContentEditable ||
    ((el.tagName === "TEXTAREA" || (el.tagName === "INPUT" && !plain.has(el.type))) && !el.readOnly && !el.disabled));

  // Click a button of the Write tab; a hidden one (another tab is open) or a disabled one is left alone.
  const click = (id) => {
    const button = document.getElementById(id);
    if (!button || button.disabled || !button.checkVisibility()) return false;
    button.click();
    return true;
  };

  const rowNumbers = () => [...document.querySelectorAll("[id^='sentence-']")]
    .map((el) => /^sentence-(\d+)$/.exec(el.id)).filter(Boolean).map((m) => Number(m[1]));

  // The sentence row that holds the focus (its sentence, keywords, buttons or panels), else the last row.
  const focusedRow = () => {
    const row = document.activeElement && document.activeElement.closest(".cntrl-row");
    const box = row && row.querySelector("[id^='sentence-']");
    const own = box && /^sentence-(\d+)$/.exec(box.id);
    if (own) return Number(own[1]);
    const rows = rowNumbers();
    return rows.length ? Math.max(...rows) : null;
  };
  const inRow = (action) => {
    const row = focusedRow();
    return row !== null && click(`${action}-${row}`);
  };

  document.addEventListener("keydown", (e) => {
    if (e.repeat || e.isComposing) return;
    const ctrl = e.ctrlKey || e.metaKey;
    const key = e.key.toLowerCase();
    const target = document.activeElement;
    let done = false;
    if (ctrl && !e.altKey && e.key === "Enter") {
      // In the premise or title box, Ctrl+Enter starts the story being typed there.
      const starting = target && target.closest("#premise, #title");
      done = click(starting ? "new-story" : "write");
    } else if (ctrl && !e.altKey && (key === "z" || key === "y")) {
      if (editable(target)) return;
      done = click(key === "y" || e.shiftKey ? "redo" : "undo");
    } else if (e.altKey && !ctrl && e.code === "KeyR") {
      done = inRow("regenerate");
    } else if (e.altKey && !ctrl && !e.shiftKey && (e.key === "ArrowLeft" || e.key === "ArrowRight")) {
      if (mac && editable(target)) return;  // Option+arrows move by word on a Mac
      done = inRow(e.key === "ArrowLeft" ? "prev-candidate" : "next-candidate");
    } else if (e.key === "Escape" && target && target.tagName === "TEXTAREA") {
      target.blur();  // leave the box, so Ctrl+Z undoes the story again
    }
    if (done) e.preventDefault();  // Alt+Left must not also go back a page
  }, true);
}
