// Live preview for the letter page: when the kind or reason changes, fetch the letter the
// server would write (the same route, as JSON) and show it without a reload. The page works
// without this file: its Preview button does the same with a full round trip.
"use strict";

(function () {
  const form = document.getElementById("letter-form");
  if (!form || !window.fetch) {
    return;
  }
  const fields = form.elements;
  const url = form.getAttribute("action"); // form.action is the buttons named "action"
  const advice = document.getElementById("letter-advice");
  const status = document.getElementById("preview-status");
  const reasonField = fields.reason_text.closest(".field");
  let edited = false;
  let latest = 0;
  let timer = null;

  function showReasonText() {
    reasonField.hidden = fields.reason.value !== "other";
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text) {
      node.textContent = text;
    }
    return node;
  }

  function showAdvice(data) {
    advice.replaceChildren();
    if (data.urgent) {
      const section = element("section", "urgent");
      section.append(
        element("h2", "", "Less than 24 hours to go: call as well"),
        element("p", "", "Phone the interviewer first if you can, then send this email so " +
          "there is a written record. What you could say:"),
        element("blockquote", "phone-script", data.phone_script || ""),
      );
      advice.append(section);
    }
    if (data.warnings.length) {
      const list = element("ul", "letter-warnings");
      data.warnings.forEach((warning) => list.append(element("li", "", warning)));
      advice.append(list);
    }
  }

  async function preview() {
    const ticket = ++latest;
    const query = new URLSearchParams({
      kind: fields.kind.value,
      reason: fields.reason.value,
      reason_text: fields.reason_text.value,
    });
    let data;
    try {
      const response = await fetch(url + "?" + query, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      data = await response.json();
    } catch (error) {
      status.textContent = "The preview is not available; use the Preview button.";
      return;
    }
    if (ticket !== latest) {
      return; // a newer request is on its way
    }
    if (data.error) {
      status.textContent = data.error;
      return;
    }
    showAdvice(data);
    if (edited) {
      status.textContent = "Your edits are kept. Press Preview to replace them with the new letter.";
      return;
    }
    fields.subject.value = data.subject;
    fields.body.value = data.body;
    status.textContent = "Letter updated.";
  }

  function soon() {
    clearTimeout(timer);
    timer = setTimeout(preview, 300);
  }

  fields.subject.addEventListener("input", () => { edited = true; });
  fields.body.addEventListener("input", () => { edited = true; });
  fields.kind.addEventListener("change", preview);
  fields.reason.addEventListener("change", () => { showReasonText(); preview(); });
  fields.reason_text.addEventListener("input", soon);
  form.addEventListener("submit", (event) => {
    if (event.submitter && event.submitter.value === "preview") {
      edited = false; // the server replaces the text with the new letter
    }
  });
  showReasonText();
})();
