package wake

import (
	"bufio"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The operations of the Engine API that Compose v2.40.3 pins (Docker
// v28.5.1), one "METHOD /path/{param}" a line. Regenerate with
//
//	go test ./shim/wake -run TestSwaggerOperations -args \
//	  -swagger=$(go env GOMODCACHE)/github.com/docker/docker@v28.5.1+incompatible/api/swagger.yaml
const operationsFile = "testdata/swagger-operations.txt"

var swagger = flag.String("swagger", "", "regenerate "+operationsFile+" from this swagger.yaml")

// The reads the snapshot answers, and nothing else.
var wantReadOnly = map[string]bool{
	"/_ping": true, "/version": true, "/info": true, "/events": true,
	"/containers/json": true, "/containers/{id}/json": true,
	"/images/json": true, "/images/{name}/json": true,
	"/networks": true, "/networks/{id}": true,
	"/volumes": true, "/volumes/{name}": true, "/system/df": true,
}

func TestSwaggerOperations(t *testing.T) {
	if *swagger != "" {
		writeOperations(t, *swagger)
	}
	f, err := os.Open(operationsFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	methods := map[string][]string{} // the API's methods of each path
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		method, template, _ := strings.Cut(sc.Text(), " ")
		methods[template] = append(methods[template], method)
		if method == "GET" {
			methods[template] = append(methods[template], "HEAD") // dockerd answers HEAD where GET
		}
	}
	if len(methods) < 90 {
		t.Fatalf("only %d paths in %s", len(methods), operationsFile)
	}
	for template := range wantReadOnly {
		if !slices.Contains(methods[template], "GET") {
			t.Errorf("GET %s is not in the API", template)
		}
	}
	// Every operation; and every method on the paths of the list. (A GET
	// of POST /volumes/prune is, for dockerd, the inspect of a volume
	// named prune: a read, and not an operation of the API.)
	for template, ms := range methods {
		if wantReadOnly[template] {
			ms = []string{"GET", "HEAD", "POST", "PUT", "DELETE"}
		}
		ids := []string{"4f3c2a1b", "web", "sha256:4f3c"}
		names := []string{"web"}
		if strings.HasPrefix(template, "/images/") || strings.HasPrefix(template, "/distribution/") {
			names = []string{"alpine", "registry:5000/a/b:tag", "sha256:4f3c", "library/alpine:3"}
		}
		for i := range max(len(ids), len(names)) {
			path := strings.NewReplacer("{id}", ids[i%len(ids)], "{name}", names[i%len(names)]).Replace(template)
			for _, version := range []string{"", "/v1.51", "/v1.24"} {
				for _, method := range ms {
					r, err := http.NewRequest(method, "http://docker"+version+path, nil)
					if err != nil {
						t.Fatal(err)
					}
					want := wantReadOnly[template] && (method == "GET" || method == "HEAD")
					if got := readOnly(r); got != want {
						t.Errorf("%s %s%s: read-only %v, want %v", method, version, path, got, want)
					}
				}
			}
		}
	}
}

func TestRouteName(t *testing.T) {
	for path, want := range map[string][2]string{
		"/v1.47/images/registry:5000/a/b:tag/json": {"/images/{}/json", "registry:5000/a/b:tag"},
		"/containers/web/json":                     {"/containers/{}/json", "web"},
		"/v1.47/containers//web/json":              {"/containers/{}/json", "/web"},
		"/networks/bridge":                         {"/networks/{}", "bridge"},
		"/v1.51/volumes/data":                      {"/volumes/{}", "data"},
		"/v1.51/version":                           {"/version", ""},
	} {
		template, ok := route(path)
		if !ok || template != want[0] || name(path, template) != want[1] {
			t.Errorf("%s: %q %q %v, want %q", path, template, name(path, template), ok, want)
		}
	}
	for _, path := range []string{"/v1.47/containers/a/b/json", "/networks/a/b", "/containers//json", "/containers///json", "/vx/version", "/images/json/x"} {
		if template, ok := route(path); ok {
			t.Errorf("%s: routed to %s", path, template)
		}
	}
}

// writeOperations extracts the operations from the swagger's paths: keys
// indented by two spaces, methods by four.
func writeOperations(t *testing.T, swagger string) {
	data, err := os.ReadFile(swagger)
	if err != nil {
		t.Fatal(err)
	}
	pathKey := regexp.MustCompile(`^  (/\S*):\s*$`)
	method := regexp.MustCompile(`^    (get|head|post|put|delete|patch):\s*$`)
	var out strings.Builder
	in, path := false, ""
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case line == "paths:":
			in = true
		case in && line != "" && line[0] != ' ' && line[0] != '#':
			in = false
		case !in:
		case pathKey.MatchString(line):
			path = pathKey.FindStringSubmatch(line)[1]
		case method.MatchString(line):
			fmt.Fprintf(&out, "%s %s\n", strings.ToUpper(method.FindStringSubmatch(line)[1]), path)
		}
	}
	if err := os.MkdirAll(filepath.Dir(operationsFile), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(operationsFile, []byte(out.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
