// Two conveniences; pages work without this script. The cohort builder's live count: while a
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
