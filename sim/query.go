package sim

import "github.com/jobfsm/jobfsm/fsm"

// JobInfo is one entry of query-jobs (qapi/job.json JobInfo).
type JobInfo struct {
	ID              string     `json:"id"`
	Type            JobType    `json:"type"`
	Status          fsm.Status `json:"status"`
	CurrentProgress int64      `json:"current-progress"`
	TotalProgress   int64      `json:"total-progress"`
	Error           *string    `json:"error,omitempty"`
}

// BlockJobInfo is one entry of query-block-jobs (qapi/block-core.json).
type BlockJobInfo struct {
	Type         string     `json:"type"`
	Device       string     `json:"device"`
	Len          int64      `json:"len"`
	Offset       int64      `json:"offset"`
	Busy         bool       `json:"busy"`
	Paused       bool       `json:"paused"`
	Speed        int64      `json:"speed"`
	IOStatus     IOStatus   `json:"io-status"`
	Ready        bool       `json:"ready"`
	Status       fsm.Status `json:"status"`
	AutoFinalize bool       `json:"auto-finalize"`
	AutoDismiss  bool       `json:"auto-dismiss"`
	Error        *string    `json:"error,omitempty"`
	// ActivelySynced is the mirror branch of BlockJobInfo (MirrorQuery,
	// 10.0): set by the driver's Query, absent for other jobs and on 7.2.
	ActivelySynced *bool `json:"actively-synced,omitempty"`
}

// BlockQuerier is BlockJobDriver.query: a driver that adds its type's
// members to query-block-jobs.
type BlockQuerier interface {
	Query(j *Job, in *BlockJobInfo)
}

// QueryJobs is qmp_query_jobs: every job, newest first; error present iff
// the job has an error text.
func (m *Manager) QueryJobs() []JobInfo {
	out := []JobInfo{}
	for j := m.head; j != nil; j = j.next {
		out = append(out, j.Info())
	}
	return out
}

// Info is the job's JobInfo.
func (j *Job) Info() JobInfo {
	in := JobInfo{ID: j.id, Type: j.Type(), Status: j.status, CurrentProgress: j.progress, TotalProgress: j.total}
	if j.hasErr {
		e := j.err
		in.Error = &e
	}
	return in
}

// QueryBlockJobs is qmp_query_block_jobs: block jobs only, newest first;
// error present iff ret != 0.
func (m *Manager) QueryBlockJobs() []BlockJobInfo {
	out := []BlockJobInfo{}
	for j := m.head; j != nil; j = j.next {
		if j.blockJob {
			out = append(out, j.BlockInfo())
		}
	}
	return out
}

// BlockInfo is the job's BlockJobInfo.
func (j *Job) BlockInfo() BlockJobInfo {
	in := BlockJobInfo{
		Type: string(j.Type()), Device: j.id, Len: j.total, Offset: j.progress,
		Busy: j.busy, Paused: j.pauseCount > 0, Speed: j.speed, IOStatus: j.iostatus,
		Ready: j.status.IsReady(), Status: j.status,
		AutoFinalize: j.autoFinalize, AutoDismiss: j.autoDismiss,
	}
	if j.ret != 0 {
		e := j.err
		if !j.hasErr {
			e = j.ret.String()
		}
		in.Error = &e
	}
	if q, ok := j.driver.(BlockQuerier); ok {
		q.Query(j, &in)
	}
	return in
}
