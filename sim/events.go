package sim

import (
	"github.com/jobfsm/jobfsm/fsm"
)

// EventName is a QMP event name.
type EventName string

const (
	EventJobStatusChange   EventName = "JOB_STATUS_CHANGE"
	EventBlockJobReady     EventName = "BLOCK_JOB_READY"
	EventBlockJobCompleted EventName = "BLOCK_JOB_COMPLETED"
	EventBlockJobCancelled EventName = "BLOCK_JOB_CANCELLED"
	EventBlockJobPending   EventName = "BLOCK_JOB_PENDING"
	EventBlockJobError     EventName = "BLOCK_JOB_ERROR"
)

// Event is one QMP event the manager emitted, with the virtual time and a
// sequence number (its index in the manager's event log).
type Event struct {
	Seq  uint64    `json:"seq"`
	Time int64     `json:"time_ns"`
	Name EventName `json:"event"`
	Job  string    `json:"job"`
	// JOB_STATUS_CHANGE
	Status fsm.Status `json:"status,omitzero"`
	// BLOCK_JOB_READY / COMPLETED / CANCELLED / PENDING / ERROR
	Type   JobType `json:"type,omitempty"`
	Len    int64   `json:"len,omitempty"`
	Offset int64   `json:"offset,omitempty"`
	Speed  int64   `json:"speed,omitempty"`
	// BLOCK_JOB_COMPLETED's optional error
	Error    string `json:"error,omitempty"`
	HasError bool   `json:"has_error,omitempty"`
	// BLOCK_JOB_ERROR
	Operation string      `json:"operation,omitempty"`
	Action    ErrorAction `json:"action,omitempty"`
}

// Data returns the event's QMP "data" member exactly as QEMU 7.2 sends it
// (qapi/job.json, qapi/block-core.json).
func (e Event) Data() map[string]any {
	switch e.Name {
	case EventJobStatusChange:
		return map[string]any{"id": e.Job, "status": e.Status.String()}
	case EventBlockJobReady, EventBlockJobCancelled:
		return map[string]any{"type": string(e.Type), "device": e.Job, "len": e.Len, "offset": e.Offset, "speed": e.Speed}
	case EventBlockJobCompleted:
		d := map[string]any{"type": string(e.Type), "device": e.Job, "len": e.Len, "offset": e.Offset, "speed": e.Speed}
		if e.HasError {
			d["error"] = e.Error
		}
		return d
	case EventBlockJobPending:
		return map[string]any{"type": string(e.Type), "id": e.Job}
	case EventBlockJobError:
		return map[string]any{"device": e.Job, "operation": e.Operation, "action": string(e.Action)}
	}
	return nil
}

// String is a compact one-line form used in timelines and test diffs, e.g.
// "j0 running" or "BLOCK_JOB_COMPLETED j0 error=Input/output error".
func (e Event) String() string {
	switch e.Name {
	case EventJobStatusChange:
		return e.Job + " " + e.Status.String()
	case EventBlockJobCompleted:
		if e.HasError {
			return string(e.Name) + " " + e.Job + " error=" + e.Error
		}
	case EventBlockJobError:
		return string(e.Name) + " " + e.Job + " " + e.Operation + " " + string(e.Action)
	}
	return string(e.Name) + " " + e.Job
}
