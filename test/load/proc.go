package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is sysconf(_SC_CLK_TCK), the unit of utime and stime in /proc/<pid>/stat:
// 100 on every Linux architecture Go supports (the kernel's USER_HZ).
const clockTicks = 100

// cpuTime is the CPU time process pid has used so far, user and system
// (utime + stime, fields 14 and 15 of /proc/<pid>/stat). pid 0 is this process.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(procPath(pid, "stat"))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(b)
}

// parseStatCPU reads utime + stime from the contents of /proc/<pid>/stat. The command
// name (field 2) is in parentheses and may hold spaces and parentheses: the fields
// after it start after the last ')'.
func parseStatCPU(stat []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed /proc stat: %q", stat)
	}
	fields := strings.Fields(string(stat[i+1:]))
	// fields[0] is field 3 (state): utime, field 14, is fields[11]; stime is fields[12].
	if len(fields) < 13 {
		return 0, fmt.Errorf("malformed /proc stat: %q", stat)
	}
	var ticks uint64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("malformed /proc stat: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// memory is a process's resident set now (VmRSS) and its peak (VmHWM), in bytes.
type memory struct{ rss, peak uint64 }

// memoryOf reads VmRSS and VmHWM from /proc/<pid>/status.
func memoryOf(pid int) (memory, error) {
	b, err := os.ReadFile(procPath(pid, "status"))
	if err != nil {
		return memory{}, err
	}
	return parseStatus(b)
}

func parseStatus(status []byte) (memory, error) {
	var m memory
	var found int
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		fields := strings.Fields(value) // "123456 kB"
		if len(fields) != 2 || fields[1] != "kB" {
			return m, fmt.Errorf("malformed /proc status line %q", sc.Text())
		}
		kib, err := strconv.ParseUint(fields[0], 10, 64)
		if err != nil {
			return m, err
		}
		if key == "VmRSS" {
			m.rss = kib << 10
		} else {
			m.peak = kib << 10
		}
		found++
	}
	if found != 2 {
		return m, fmt.Errorf("no VmRSS and VmHWM in /proc status")
	}
	return m, sc.Err()
}

func procPath(pid int, file string) string {
	if pid == 0 {
		return "/proc/self/" + file
	}
	return "/proc/" + strconv.Itoa(pid) + "/" + file
}

func mib(bytes uint64) float64 { return float64(bytes) / (1 << 20) }
