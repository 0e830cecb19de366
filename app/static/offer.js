// Adds each time in the browser's own zone when it differs from the zones the page already shows.
// Progressive enhancement: without JavaScript the page is complete (CSP allows only this file).
(function () {
  "use strict";
  var zone;
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch (error) {
    return;
  }
  if (!zone) {
    return;
  }
  var dayAndTime = new Intl.DateTimeFormat(undefined, {
    weekday: "long", day: "numeric", month: "long", year: "numeric",
    hour: "2-digit", minute: "2-digit", timeZone: zone
  });
  var timeOnly = new Intl.DateTimeFormat(undefined, {
    hour: "2-digit", minute: "2-digit", timeZone: zone
  });
  var dayOnly = new Intl.DateTimeFormat("en-CA", { dateStyle: "short", timeZone: zone });

  document.querySelectorAll(".browser-time[data-start][data-end]").forEach(function (element) {
    var shown = (element.getAttribute("data-zones") || "").split(" ");
    var start = new Date(element.getAttribute("data-start"));
    var end = new Date(element.getAttribute("data-end"));
    if (shown.indexOf(zone) !== -1 || isNaN(start.getTime()) || isNaN(end.getTime())) {
      return;
    }
    var until = dayOnly.format(start) === dayOnly.format(end)
      ? timeOnly.format(end) : dayAndTime.format(end);
    element.textContent = "In your browser’s time zone (" + zone + "): " +
      dayAndTime.format(start) + " – " + until;
    element.hidden = false;
  });
})();
