// Package timeline draws a run of the job manager as a per-job timeline:
// one swimlane per job, its statuses as coloured segments, the BLOCK_JOB_*
// events and the commands issued marked where they happened.
//
// The input is a Run: the event log (sim.Event, as sim.Recorder or a
// scenario result gives it) and, optionally, the commands issued, each
// placed by the number of events emitted before it. A Run renders as plain
// text for terminals (Text), as SVG (SVG), or as a self-contained HTML page
// (HTML) with the SVG inline, a legend and the full log.
//
// The horizontal axis is the order of things, not virtual time: many events
// happen at the same virtual instant (a transaction abort finalizes every
// member at once), so a time-scaled axis would stack them on top of each
// other. Each event and each command gets its own column; the virtual time
// is printed wherever it advances.
package timeline
