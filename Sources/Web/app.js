// Conveniences; pages work without this script. The cohort builder's live count: while a
// definition is typed, the count comes from the same API call as "Count and profile" (audited the
// same way), which only saves pressing the button.
"use strict";
(function () {
  const box = document.getElementById("definition");
  const shown = document.getElementById("live-count");
  const token = document.querySelector("input[name=csrf]");
  if (!box || !shown || !token) return;
  let timer = null;
  let asked = box.value.trim();
  async function count() {
    const text = box.value.trim();
    if (text === asked) return;
    asked = text;
    if (text === "") { shown.textContent = ""; return; }
    try {
      const response = await fetch("/api/cohorts/profile", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": token.value },
        body: JSON.stringify({ definition: text }),
      });
      const answer = await response.json();
      if (box.value.trim() !== text) return; // typed on since: a newer count is coming
      if (!response.ok) { shown.textContent = answer.error; return; }
      const people = (n) => n === null ? "fewer than 8 (suppressed)" : n.toLocaleString("en-GB");
      shown.textContent = `${people(answer.size)} of ${people(answer.population)} people`;
    } catch (error) {
      shown.textContent = "";
    }
  }
  box.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(count, 300);
  });
})();

// Suggestions while typing a definition: the word being typed is completed from the language's
// words and this run's names (the page's #definition-words list, each option holding the text
// to insert: a name that is not a plain word comes quoted and escaped, as the language reads it).
// Words are read as the language's lexer reads them: letters, digits, _, - and any non-ASCII
// character, or anything inside quotes. Up and Down choose, Enter or a click takes one, Escape
// (or moving the caret) closes the list.
(function () {
  const box = document.getElementById("definition");
  const list = document.getElementById("definition-suggestions");
  const source = document.getElementById("definition-words");
  const status = document.getElementById("definition-status");
  const help = document.getElementById("definition-help");
  if (!box || !list || !source) return;
  if (help) help.hidden = false;
  const words = Array.from(source.options, (o) => ({ shown: o.value, text: o.dataset.text || o.value }));
  const wordChar = /[A-Za-z0-9_\-\u0080-\uFFFF]/;
  let active = -1;
  let shown = [];
  let taking = false; // the input event a choice sends is not a new word

  // The word around the caret: where it starts and ends, what is typed of it, and whether it
  // is inside quotes (a backslash escapes the next character there, as in the language).
  function fragment() {
    const text = box.value, caret = box.selectionStart;
    let quoteStart = -1;
    for (let i = 0; i < caret; i++) {
      if (quoteStart >= 0 && text[i] === "\\") { i++; continue; }
      if (text[i] === '"') quoteStart = quoteStart >= 0 ? -1 : i;
    }
    if (quoteStart >= 0) {
      let end = caret;
      while (end < text.length && text[end] !== '"') end += text[end] === "\\" ? 2 : 1;
      return { start: quoteStart, end: Math.min(text.length, end + 1), typed: text.slice(quoteStart + 1, caret) };
    }
    let start = caret, end = caret;
    while (start > 0 && wordChar.test(text[start - 1])) start--;
    while (end < text.length && wordChar.test(text[end])) end++;
    return { start, end, typed: text.slice(start, caret) };
  }

  function close() {
    list.hidden = true;
    list.replaceChildren();
    box.removeAttribute("aria-activedescendant");
    active = -1;
    shown = [];
  }

  function choose(k) {
    active = k;
    list.querySelectorAll("li").forEach((item, i) => item.setAttribute("aria-selected", String(i === k)));
    if (k >= 0) {
      box.setAttribute("aria-activedescendant", "suggestion-" + k);
      list.children[k].scrollIntoView({ block: "nearest" });
    }
  }

  function suggest() {
    if (taking) return;
    if (box.selectionStart !== box.selectionEnd) return close();
    const lower = fragment().typed.toLowerCase();
    if (lower.length < 2) return close();
    const starts = words.filter((w) => w.shown.toLowerCase().startsWith(lower) && w.shown.toLowerCase() !== lower);
    const within = words.filter((w) => !starts.includes(w) &&
      w.shown.toLowerCase().split(/[ _,]+/).some((part) => part.startsWith(lower)));
    shown = starts.concat(within).slice(0, 8);
    if (shown.length === 0) return close();
    list.replaceChildren(...shown.map((word, i) => {
      const item = document.createElement("li");
      item.id = "suggestion-" + i;
      item.setAttribute("role", "option");
      item.textContent = word.shown;
      item.addEventListener("mousedown", (event) => { event.preventDefault(); take(i); });
      return item;
    }));
    list.hidden = false;
    if (status) status.textContent = shown.length + (shown.length === 1 ? " suggestion" : " suggestions") + ": Down to choose";
    choose(-1);
  }

  function take(k) {
    const word = shown[k];
    const around = fragment();
    box.setRangeText(word.text, around.start, around.end, "end");
    close();
    taking = true;
    box.dispatchEvent(new Event("input"));
    taking = false;
  }

  box.addEventListener("input", (event) => { if (!event.isComposing) suggest(); });
  box.addEventListener("blur", close);
  box.addEventListener("click", close);
  box.addEventListener("keydown", (event) => {
    if (list.hidden) return;
    if (event.key === "ArrowDown") { event.preventDefault(); choose((active + 1) % shown.length); }
    else if (event.key === "ArrowUp") { event.preventDefault(); choose(active <= 0 ? shown.length - 1 : active - 1); }
    else if (event.key === "Enter" && active >= 0) { event.preventDefault(); take(active); }
    else if (event.key === "Escape") { event.preventDefault(); close(); }
    else if (["ArrowLeft", "ArrowRight", "Home", "End", "PageUp", "PageDown"].includes(event.key)) close();
  });
})();

// Printed, folded tables open, so a pack holds them; they fold again after.
(function () {
  let opened = [];
  window.addEventListener("beforeprint", () => {
    opened = Array.from(document.querySelectorAll("details:not([open])"));
    opened.forEach((d) => { d.open = true; });
  });
  window.addEventListener("afterprint", () => { opened.forEach((d) => { d.open = false; }); opened = []; });
})();

// Each chart as PNG, beside its SVG download: drawn from the page's own SVG onto a canvas at
// twice its size, on white. Without scripts the SVG download remains.
(function () {
  function png(svg) {
    const box = svg.viewBox.baseVal;
    const source = new XMLSerializer().serializeToString(svg);
    return new Promise((resolve, reject) => {
      const image = new Image();
      image.onload = () => {
        const canvas = document.createElement("canvas");
        canvas.width = 2 * box.width;
        canvas.height = 2 * box.height;
        const context = canvas.getContext("2d");
        context.fillStyle = "#fff";
        context.fillRect(0, 0, canvas.width, canvas.height);
        context.drawImage(image, 0, 0, canvas.width, canvas.height);
        resolve(canvas.toDataURL("image/png"));
      };
      image.onerror = () => reject(new Error("the chart could not be drawn"));
      image.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(source);
    });
  }
  window.phmChartPNG = png;
  for (const section of document.querySelectorAll("section[aria-labelledby]")) {
    const svg = section.querySelector("figure svg");
    const downloads = section.querySelector("p.downloads");
    if (!svg || !downloads) continue;
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = "Download the chart (PNG)";
    button.addEventListener("click", async () => {
      const link = document.createElement("a");
      link.download = section.getAttribute("aria-labelledby") + ".png";
      link.href = await png(svg);
      link.click();
    });
    downloads.append(" ", button);
  }
})();
