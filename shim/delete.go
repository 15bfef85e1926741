package shim

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/docker/go-units"

	"github.com/pixi-lima/pixi-lima/lima"
)

func (s *session) cmdDelete(args []string) error {
	var force bool
	if err := s.flags("delete", args, func(fs *flag.FlagSet) {
		fs.BoolVar(&force, "force", false, "delete without asking")
	}); err != nil {
		return err
	}
	p, err := s.loadProject()
	if err != nil {
		return err
	}
	return p.engine.remove(force)
}

func (e vmEngine) remove(force bool) error {
	s, p := e.s, e.p
	inst, err := lima.Inspect(p.paths, p.config.Name)
	var damaged *lima.DamagedError
	if errors.As(err, &damaged) {
		if err := s.deleteDamaged(damaged, force); err != nil {
			return err
		}
		forgetEngine(p)
		return nil
	}
	if err != nil {
		return err
	}
	if inst == nil {
		s.printf("VM %q does not exist; nothing to delete", p.config.Name)
		return nil
	}
	m, err := s.manager(p)
	if err != nil {
		return err
	}
	if !force {
		if err := s.confirmDelete(m.Config.Name, s.whatIsLost(m)); err != nil {
			return err
		}
	}
	s.stopWakeSocket(p) // or a client could create the VM again at once
	if err := m.Delete(context.Background()); err != nil {
		return err
	}
	forgetEngine(p)
	return nil
}

// forgetEngine removes what the wake socket kept of a deleted engine: its
// state must not answer for the next one.
func forgetEngine(p *project) {
	os.Remove(p.paths.Snapshot())
	os.Remove(p.paths.WakeReaders())
}

// confirmDelete asks on a terminal and refuses anywhere else.
func (s *session) confirmDelete(name, loss string) error {
	return s.confirm(fmt.Sprintf("Delete VM %q? %s", name, loss),
		fmt.Sprintf("not deleting VM %q without confirmation: %s", name, loss), "pixi-lima delete --force")
}

// deleteDamaged removes an instance directory Lima cannot read (limactl
// delete ignores it), after the same confirmation as a whole VM.
func (s *session) deleteDamaged(d *lima.DamagedError, force bool) error {
	if !force {
		loss := fmt.Sprintf("it is damaged (%s), and its directory %s with %s on the host will be lost",
			d.Why, d.Dir, units.BytesSize(float64(d.Bytes)))
		if err := s.confirmDelete(d.Name, loss); err != nil {
			return err
		}
	}
	if err := lima.RemoveDamaged(d); err != nil {
		return &Error{Code: ExitFailed, Msg: "not deleted: " + err.Error()}
	}
	s.printf("deleted the damaged VM %q (%s)", d.Name, d.Dir)
	return nil
}

// whatIsLost says what goes with the VM's disk. When the engine answers it
// counts containers, images and volumes, and names the volumes.
func (s *session) whatIsLost(m *lima.Manager) string {
	size := units.BytesSize(float64(lima.DiskUsage(m.Paths.InstanceDir(m.Config.Name))))
	client := &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", m.Socket())
		}},
	}
	var containers, images []json.RawMessage
	var volumes struct{ Volumes []struct{ Name string } }
	if getJSON(client, "/containers/json?all=1", &containers) != nil ||
		getJSON(client, "/images/json", &images) != nil ||
		getJSON(client, "/volumes", &volumes) != nil {
		return fmt.Sprintf("its disk (%s on the host) and every container, image and volume in it will be lost", size)
	}
	var names []string
	for _, v := range volumes.Volumes {
		names = append(names, v.Name)
	}
	lost := fmt.Sprintf("its disk (%s on the host) will be lost, with %d containers, %d images and %d volumes",
		size, len(containers), len(images), len(volumes.Volumes))
	if len(names) > 0 {
		lost += " (" + strings.Join(names, ", ") + ")"
	}
	return lost
}

func getJSON(c *http.Client, path string, v any) error {
	resp, err := c.Get("http://docker" + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
