// Three conveniences; pages work without this script. The cohort builder's live count: while a
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
// words and this run's names (the page's #definition-words list). A name that is not a plain word
// is put in quotes. Up and Down choose, Enter or a click takes one, Escape closes the list.
(function () {
  const box = document.getElementById("definition");
  const list = document.getElementById("definition-suggestions");
  const source = document.getElementById("definition-words");
  if (!box || !list || !source) return;
  const words = Array.from(source.options, (o) => o.value);
  const plain = /^[A-Za-z0-9_.]+$/;
  let active = -1;
  let shown = [];
  let taking = false; // the input event a choice sends is not a new word

  // The part of the word before the caret, and whether it follows an open quote.
  function fragment() {
    const before = box.value.slice(0, box.selectionStart);
    const quotes = (before.match(/"/g) || []).length;
    if (quotes % 2 === 1) {
      const start = before.lastIndexOf('"');
      return { start, text: before.slice(start + 1), quoted: true };
    }
    const match = before.match(/[A-Za-z0-9_.]*$/);
    return { start: before.length - match[0].length, text: match[0], quoted: false };
  }

  function close() {
    list.hidden = true;
    list.replaceChildren();
    box.setAttribute("aria-expanded", "false");
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
    const typed = fragment();
    const lower = typed.text.toLowerCase();
    if (lower.length < 2) return close();
    const starts = words.filter((w) => w.toLowerCase().startsWith(lower) && w !== typed.text);
    const within = words.filter((w) => !starts.includes(w) &&
      w.toLowerCase().split(/[ _,]+/).some((part) => part.startsWith(lower)));
    shown = starts.concat(within).slice(0, 8);
    if (shown.length === 0) return close();
    list.replaceChildren(...shown.map((word, i) => {
      const item = document.createElement("li");
      item.id = "suggestion-" + i;
      item.setAttribute("role", "option");
      item.textContent = word;
      item.addEventListener("mousedown", (event) => { event.preventDefault(); take(i); });
      return item;
    }));
    list.hidden = false;
    box.setAttribute("aria-expanded", "true");
    choose(-1);
  }

  function take(k) {
    const word = shown[k];
    const typed = fragment();
    const text = typed.quoted || !plain.test(word) ? '"' + word + '"' : word;
    const end = box.selectionStart;
    box.value = box.value.slice(0, typed.start) + text + box.value.slice(end);
    const caret = typed.start + text.length;
    box.setSelectionRange(caret, caret);
    close();
    taking = true;
    box.dispatchEvent(new Event("input"));
    taking = false;
  }

  box.addEventListener("input", suggest);
  box.addEventListener("blur", close);
  box.addEventListener("keydown", (event) => {
    if (list.hidden) return;
    if (event.key === "ArrowDown") { event.preventDefault(); choose((active + 1) % shown.length); }
    else if (event.key === "ArrowUp") { event.preventDefault(); choose(active <= 0 ? shown.length - 1 : active - 1); }
    else if (event.key === "Enter" && active >= 0) { event.preventDefault(); take(active); }
    else if (event.key === "Escape") { event.preventDefault(); close(); }
  });
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
