package harness

// Pid is the process's id, for reading its CPU time and memory from /proc/<pid>.
func (p *Process) Pid() int { return p.cmd.Process.Pid }
