package tests

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/pixi-lima/pixi-lima/env"
	"github.com/pixi-lima/pixi-lima/lima"
)

// TestImageCacheShared: two projects whose image-cache names one directory
// download an image once, served over HTTP on loopback, as Lima downloads
// a template's image: the real limactl creates each instance (no boot),
// the second create only asks the server whether the image changed, the
// shared cache holds one copy, and deleting the first project's .pixi
// leaves the second's instance whole. A project without the setting keeps
// its own cache in .pixi. clean-global then lists and removes the shared
// cache, and the instance still does not need it.
func TestImageCacheShared(t *testing.T) {
	s := requireSetup(t)
	dir, err := os.MkdirTemp("/tmp", "plic")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	run(t, exec.Command("chown", fmt.Sprintf("%d:%d", s.UID, s.GID), dir))
	shared := filepath.Join(dir, "images") // made by pixi-lima
	withCache := func(name string) string {
		return fmt.Sprintf("[workspace]\nname = %q\n[tool.pixi-lima]\nimage-cache = %q\n", name, shared)
	}
	a := newProject(t, s, withCache("fpa"))
	b := newProject(t, s, withCache("fpb"))
	own := newProject(t, s, "[workspace]\nname = \"fpc\"\n")

	img := qcowImage(t, b)
	srv, requests := imageServer(t, img)
	url := srv.URL + "/debian.qcow2"
	create := func(p *Project, instance string) {
		t.Helper()
		p.MustRun(t, p.Command(p.Bin("limactl-local"), "--tty=false", "create", "--name="+instance, "template://docker",
			"--set", localImage(url)))
	}
	entry := filepath.Join(lima.SharedCache(shared), "download", "by-url-sha256", fmt.Sprintf("%x", sha256.Sum256([]byte(url))))
	entries := func() int {
		list, _ := os.ReadDir(filepath.Dir(entry))
		return len(list)
	}

	create(a, "fpa-docker")
	if got := requests(); got != "GET=1" {
		t.Fatalf("first create: requests %s, want one GET", got)
	}
	mustExist(t, filepath.Join(entry, "data"))

	// The second project copies from the cache: no GET, only the HEAD
	// that checks Last-Modified of an image without a digest.
	create(b, "fpb-docker")
	for _, p := range []*Project{a, b} {
		link := env.NewPaths(p.Root).LimaCache(runtime.GOOS)
		if target, err := os.Readlink(link); err != nil || target != lima.SharedCache(shared) {
			t.Errorf("%s: %v, want a symlink to %s", link, err, lima.SharedCache(shared))
		}
	}
	if got := requests(); got != "GET=1 HEAD=1" {
		t.Errorf("after the second create: requests %s, want still one GET (and one HEAD)", got)
	}
	if n := entries(); n != 1 {
		t.Errorf("shared cache holds %d entries, want 1", n)
	}
	baseB := filepath.Join(b.Root, ".pixi", "lima", "fpb-docker", "basedisk")
	if fileSum(t, baseB) != fileSum(t, img) {
		t.Fatalf("%s is not the image", baseB)
	}

	// Deleting the first project's .pixi removes its link, not the cache,
	// and the second project's instance never needed either.
	must(t, os.RemoveAll(filepath.Join(a.Root, ".pixi")))
	mustExist(t, filepath.Join(entry, "data"))
	instanceWhole(t, b, "fpb-docker", fileSum(t, img))

	// Without the setting the project downloads into its own .pixi.
	create(own, "fpc-docker")
	ownCache := env.NewPaths(own.Root).LimaCache(runtime.GOOS)
	if info, err := os.Lstat(ownCache); err != nil || !info.IsDir() {
		t.Errorf("%s: %v, want the project's own directory", ownCache, err)
	}
	mustExist(t, filepath.Join(ownCache, "download", "by-url-sha256", filepath.Base(entry), "data"))
	if got := requests(); got != "GET=2 HEAD=1" {
		t.Errorf("a project without image-cache: requests %s, want its own GET", got)
	}
	if n := entries(); n != 1 {
		t.Errorf("shared cache holds %d entries, want still 1", n)
	}

	// clean-global lists the shared cache, and --yes removes it and the
	// directory it leaves empty; the instance goes on without it.
	out := b.MustRun(t, b.Command(b.Bin("pixi-lima"), "clean-global"))
	if !strings.Contains(out, "image-cache") || !strings.Contains(out, lima.SharedCache(shared)) {
		t.Errorf("clean-global does not list the shared cache:\n%s", out)
	}
	out = b.MustRun(t, b.Command(b.Bin("pixi-lima"), "clean-global", "--yes"))
	if !strings.Contains(out, "removed "+shared+" (it was empty)") {
		t.Errorf("clean-global --yes did not remove %s:\n%s", shared, out)
	}
	mustNotExist(t, shared)
	instanceWhole(t, b, "fpb-docker", fileSum(t, img))

	// With the setting gone, the next limactl call makes the cache the
	// project's own again.
	must(t, os.WriteFile(filepath.Join(b.Root, "pixi.toml"), []byte("[workspace]\nname = \"fpb\"\n"), 0o644))
	b.MustRun(t, b.Command(b.Bin("limactl-local"), "list", "--quiet"))
	if info, err := os.Lstat(env.NewPaths(b.Root).LimaCache(runtime.GOOS)); err == nil && !info.IsDir() {
		t.Errorf("the link to the shared cache is still there without the setting")
	}
}

// imageServer serves file at any path on 127.0.0.1, with Last-Modified,
// and counts the requests by method ("GET=1 HEAD=1").
func imageServer(t *testing.T, file string) (*httptest.Server, func() string) {
	var mu sync.Mutex
	count := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		count[r.Method]++
		mu.Unlock()
		t.Logf("image server: %s %s", r.Method, r.URL.Path)
		http.ServeFile(w, r, file)
	}))
	t.Cleanup(srv.Close)
	return srv, func() string {
		mu.Lock()
		defer mu.Unlock()
		var parts []string
		for _, m := range []string{"GET", "HEAD"} {
			if count[m] > 0 {
				parts = append(parts, fmt.Sprintf("%s=%d", m, count[m]))
			}
		}
		return strings.Join(parts, " ")
	}
}

// instanceWhole checks that the instance's base disk is the image, its
// diff disk is backed by that base disk in the instance, and status
// reports it Stopped.
func instanceWhole(t *testing.T, p *Project, instance, imageSum string) {
	t.Helper()
	dir := filepath.Join(p.Root, ".pixi", "lima", instance)
	if got := fileSum(t, filepath.Join(dir, "basedisk")); got != imageSum {
		t.Errorf("%s/basedisk changed", dir)
	}
	out, err := exec.Command("qemu-img", "info", "--output=json", filepath.Join(dir, "diffdisk")).Output()
	if err != nil {
		t.Fatalf("qemu-img info diffdisk: %v", err)
	}
	var info struct {
		Backing string `json:"full-backing-filename"`
	}
	must(t, json.Unmarshal(out, &info))
	if info.Backing != filepath.Join(dir, "basedisk") {
		t.Errorf("diffdisk is backed by %q, want the instance's basedisk", info.Backing)
	}
	if st := statusMap(t, p); st["state"] != "Stopped" {
		t.Errorf("status: %v, want Stopped", st)
	}
}

func fileSum(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}
