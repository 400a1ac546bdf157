// lua-health runs Argo CD resource health scripts the way Argo CD does (util/lua in argo-cd):
// gopher-lua, the base/table/string/math libraries, the object as the global `obj` (JSON
// decoded to Lua tables, arrays 1-based), and the returned table read as {status, message}.
// Input on stdin: a JSON array of {"script": "...", "obj": {...}}; output: a JSON array of
// {"status", "message"} or {"error"} in the same order.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	lua "github.com/yuin/gopher-lua"
)

type job struct {
	Script string      `json:"script"`
	Obj    interface{} `json:"obj"`
}

type result struct {
	Status  string `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
	Error   string `json:"error,omitempty"`
}

var known = map[string]bool{"Healthy": true, "Progressing": true, "Degraded": true, "Suspended": true, "Missing": true, "Unknown": true}

func decode(l *lua.LState, v interface{}) lua.LValue {
	switch x := v.(type) {
	case map[string]interface{}:
		t := l.NewTable()
		for k, e := range x {
			t.RawSetString(k, decode(l, e))
		}
		return t
	case []interface{}:
		t := l.NewTable()
		for i, e := range x {
			t.RawSetInt(i+1, decode(l, e))
		}
		return t
	case float64:
		return lua.LNumber(x)
	case string:
		return lua.LString(x)
	case bool:
		return lua.LBool(x)
	default:
		return lua.LNil
	}
}

func run(j job) result {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		fn   lua.LGFunction
	}{{lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}, {lua.StringLibName, lua.OpenString}, {lua.MathLibName, lua.OpenMath}} {
		l.Push(l.NewFunction(lib.fn))
		l.Push(lua.LString(lib.name))
		l.Call(1, 0)
	}
	l.SetGlobal("obj", decode(l, j.Obj))
	if err := l.DoString(j.Script); err != nil {
		return result{Error: err.Error()}
	}
	t, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		return result{Error: fmt.Sprintf("the script returned %s, not a table", l.Get(-1).Type())}
	}
	status := lua.LVAsString(t.RawGetString("status"))
	if !known[status] {
		return result{Error: fmt.Sprintf("status %q is not an Argo CD health status", status)}
	}
	return result{Status: status, Message: lua.LVAsString(t.RawGetString("message"))}
}

func main() {
	var jobs []job
	if err := json.NewDecoder(os.Stdin).Decode(&jobs); err != nil {
		fmt.Fprintln(os.Stderr, "lua-health: cannot read the jobs:", err)
		os.Exit(2)
	}
	out := make([]result, len(jobs))
	for i, j := range jobs {
		out[i] = run(j)
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		os.Exit(1)
	}
}
