package shim

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/docker/go-units"

	"github.com/pixi-lima/pixi-lima/env"
	"github.com/pixi-lima/pixi-lima/env/settings"
	"github.com/pixi-lima/pixi-lima/lima"
)

// cmdCleanGlobal lists, and with --yes deletes, the Lima state that global
// setups left behind: instances in ~/.lima and Lima's image cache. The
// listing is the contract: --yes deletes exactly what it lists.
func (s *session) cmdCleanGlobal(args []string) error {
	var yes, force bool
	var instance string
	if err := s.flags("clean-global", args, func(fs *flag.FlagSet) {
		fs.BoolVar(&yes, "yes", false, "delete what is listed")
		fs.BoolVar(&force, "force", false, "with --yes: kill an instance that does not stop gracefully (limactl stop --force)")
		fs.StringVar(&instance, "instance", "", "list (and delete) only this instance of ~/.lima")
	}); err != nil {
		return err
	}
	// Listing stays allowed as root: it reads ~/.lima in this process and
	// runs no limactl. Deleting needs limactl, which refuses root, and
	// deleting only what needs none (the cache) would report a clean-up
	// that did not happen; so --yes refuses before anything is touched.
	root := os.Geteuid() == 0
	if yes && root {
		return &Error{Code: ExitConfig, Msg: "limactl refuses to run as root, so pixi-lima cannot delete Lima instances as root",
			Hint: "run it as the user whose ~/.lima it is: pixi-lima clean-global --yes"}
	}
	p, err := s.loadProject()
	if err != nil {
		return err
	}
	g, err := lima.GlobalDirs(runtime.GOOS, s.getenv)
	if err != nil {
		return &Error{Code: ExitConfig, Msg: err.Error()}
	}
	// With HOME or XDG_CACHE_HOME pointing into .pixi (as they do for the
	// project's own limactl), the "global" state is the project's own VM.
	pixiDir := filepath.Join(p.paths.Root, ".pixi")
	for _, target := range []string{g.Home, g.Cache} {
		if env.Overlaps(target, pixiDir) {
			return &Error{Code: ExitRefused,
				Msg:  fmt.Sprintf("refusing to clean %s: it overlaps this project's own Lima state in %s (LIMA_HOME=%s)", target, pixiDir, p.paths.LimaHome),
				Hint: "run it with your own HOME and XDG_CACHE_HOME; to remove this project's VM: pixi-lima delete"}
		}
	}
	plan, err := g.Plan(instance)
	if errors.Is(err, lima.ErrNoSuchInstance) {
		var names []string
		for _, it := range plan.Items {
			if it.Kind == lima.KindInstance {
				names = append(names, it.Name)
			}
		}
		return &Error{Code: ExitUsage, Msg: err.Error() + settings.Suggest(instance, names),
			Hint: "pixi-lima clean-global lists the instances there"}
	}
	if err == nil && instance == "" {
		err = plan.AddImageCache(p.config.ImageCache)
	}
	if err != nil {
		return err
	}
	s.printPlan(plan)
	if len(plan.Items) == 0 && !plan.RemoveHome {
		return nil
	}
	if !yes {
		s.printf("nothing was deleted; to delete exactly what is listed: pixi-lima clean-global --yes%s%s",
			map[bool]string{true: " --instance " + instance}[instance != ""], map[bool]string{true: " (as your normal user)"}[root])
		return nil
	}
	path, err := s.limactlPath(p)
	if err != nil {
		return err
	}
	l := s.limactl(path, env.Build(s.environ, env.Overrides{Set: map[string]string{"LIMA_HOME": g.Home}}), p.paths.LogFile("clean-global"))
	res, cleanErr := plan.Clean(context.Background(), l, force)
	for _, it := range res.Removed {
		fmt.Fprintf(s.stdout, "removed %s %s\n", it.Kind, it.Path)
	}
	if res.HomeRemoved {
		fmt.Fprintf(s.stdout, "removed %s (it was empty)\n", g.Home)
	}
	for _, it := range res.Removed {
		// The image-cache directory goes with its cache when nothing else is in it.
		if it.Name == "image-cache" && os.Remove(p.config.ImageCache) == nil {
			fmt.Fprintf(s.stdout, "removed %s (it was empty)\n", p.config.ImageCache)
		}
	}
	fmt.Fprintf(s.stdout, "freed %d bytes (%s)\n", res.Freed, units.BytesSize(float64(res.Freed)))
	if cleanErr != nil {
		hint := "pixi-lima clean-global lists what is left"
		if errors.Is(cleanErr, lima.ErrNotStopped) {
			hint = "to kill what does not stop: pixi-lima clean-global --yes --force"
		}
		return &Error{Code: ExitFailed, Msg: "clean-global: not everything listed was removed:\n  " + strings.ReplaceAll(cleanErr.Error(), "\n", "\n  "),
			Logs: []string{l.Log}, Hint: hint}
	}
	return nil
}

// printPlan prints what clean-global would delete and what it leaves.
func (s *session) printPlan(p *lima.GlobalPlan) {
	w := s.stdout
	if len(p.Items) == 0 && !p.RemoveHome && len(p.Protected) > 0 {
		fmt.Fprintln(w, "nothing to delete") // the kept lines below say why
	} else if len(p.Items) == 0 && !p.RemoveHome {
		fmt.Fprintf(w, "nothing to clean: no Lima instances in %s and no Lima cache in %s\n", p.Home, p.Cache)
	} else {
		fmt.Fprintln(w, "Lima state outside this project:")
		for _, it := range p.Items {
			status := it.Status
			if status == "" {
				status = "-"
			}
			fmt.Fprintf(w, "  %-9s %-20s %-8s %10s  %s\n", it.Kind, it.Name, status, units.BytesSize(float64(it.Bytes)), it.Path)
		}
		if p.RemoveHome {
			fmt.Fprintf(w, "  %-9s %-20s %-8s %10s  %s (nothing else is in it)\n", "home", filepath.Base(p.Home), "-", "", p.Home)
		}
		total := p.Total()
		fmt.Fprintf(w, "total: %d bytes (%s)\n", total, units.BytesSize(float64(total)))
	}
	for _, it := range p.Protected {
		fmt.Fprintf(w, "kept: instance %s is protected (%s, %s, %s); to let clean-global delete it: LIMA_HOME=%s limactl unprotect %s\n",
			it.Name, it.Status, units.BytesSize(float64(it.Bytes)), it.Path, p.Home, it.Name)
	}
	if len(p.Others) > 0 {
		fmt.Fprintf(w, "kept: %s also holds %s, which clean-global does not touch\n", p.Home, strings.Join(p.Others, ", "))
	}
	for _, sk := range p.Skipped {
		fmt.Fprintf(w, "kept: %s is a symlink; clean-global does not follow it\n", sk)
	}
}
