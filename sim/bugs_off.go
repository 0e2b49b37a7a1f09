//go:build !jobfsm_mutation

package sim

// plantedBug is false in every normal build; see bugs.go.
func plantedBug(plantedBugID) bool { return false }

func (m *Manager) plantedReadyToPaused(*Job) {}
func (m *Manager) plantedEarlyCommit(*Txn)   {}
