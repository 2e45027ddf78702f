// The cohort builder's live count: while a definition is typed, the count comes from the same
// API call as "Count and profile" (audited the same way). Pages work without this script; it
// only saves pressing the button.
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
