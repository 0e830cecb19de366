// Reads iCalendar objects with ical.js, an independent parser, and prints the fields Newslot's
// tests check. Input: a JSON array of .ics texts on stdin (one node start for many calendars).
// Output: a JSON array, one entry per text, every instant in UTC ISO 8601.
import ICAL from "ical.js";
import { readFileSync } from "node:fs";

const utc = (time) => (time ? time.toJSDate().toISOString() : null);

const address = (prop) => ({
  email: String(prop.getFirstValue()).replace(/^mailto:/i, ""),
  cn: prop.getParameter("cn") ?? null,
  partstat: prop.getParameter("partstat") ?? null,
  role: prop.getParameter("role") ?? null,
  rsvp: prop.getParameter("rsvp") ?? null,
});

const readEvent = (vevent) => {
  const event = new ICAL.Event(vevent);
  const organizer = vevent.getFirstProperty("organizer");
  return {
    uid: event.uid,
    sequence: vevent.getFirstPropertyValue("sequence"),
    status: vevent.getFirstPropertyValue("status"),
    summary: event.summary,
    description: event.description,
    location: event.location,
    url: vevent.getFirstPropertyValue("url"),
    dtstamp: utc(vevent.getFirstPropertyValue("dtstamp")),
    start: utc(event.startDate),
    end: utc(event.endDate),
    start_tzid: vevent.getFirstProperty("dtstart").getParameter("tzid") ?? null,
    organizer: organizer ? address(organizer) : null,
    attendees: vevent.getAllProperties("attendee").map(address),
  };
};

const readCalendar = (text) => {
  const calendar = new ICAL.Component(ICAL.parse(text));
  return {
    method: calendar.getFirstPropertyValue("method"),
    version: calendar.getFirstPropertyValue("version"),
    prodid: calendar.getFirstPropertyValue("prodid"),
    timezones: calendar.getAllSubcomponents("vtimezone").map((tz) => tz.getFirstPropertyValue("tzid")),
    events: calendar.getAllSubcomponents("vevent").map(readEvent),
  };
};

console.log(JSON.stringify(JSON.parse(readFileSync(0, "utf8")).map(readCalendar)));
