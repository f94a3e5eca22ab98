package nats

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

func TestZZProbe(t *testing.T) {
	nc := connect(t, sharedURL)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	name := "PROBE_" + nuid.Next()
	p := "probe." + nuid.Next()
	for _, age := range []time.Duration{time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 0} {
		_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
			Name: name, Subjects: []string{p + ".h.*"}, MaxMsgsPerSubject: 5, MaxAge: age, Discard: jetstream.DiscardOld,
			AllowDirect: true, Storage: jetstream.FileStorage, Replicas: 1,
			RePublish: &jetstream.RePublish{Source: p + ".h.*", Destination: p + ".room.{{wildcard(1)}}"},
		})
		t.Logf("maxage %v: %v", age, err)
	}
	defer js.DeleteStream(ctx, name)
	sub, _ := nc.SubscribeSync(p + ".room.*")
	nc.Flush()
	pub := func(subj string, exp *uint64, id string) (*jetstream.PubAck, error) {
		m := natsgo.NewMsg(subj)
		m.Data = []byte("x")
		if exp != nil {
			m.Header.Set("Nats-Expected-Last-Subject-Sequence", strconv.FormatUint(*exp, 10))
		}
		if id != "" {
			m.Header.Set("Nats-Msg-Id", id)
		}
		return js.PublishMsg(ctx, m)
	}
	zero := uint64(0)
	a, err := pub(p+".h.a", &zero, "")
	t.Logf("first with 0: %+v %v", a, err)
	a, err = pub(p+".h.a", &zero, "")
	var apiErr *jetstream.APIError
	errors.As(err, &apiErr)
	t.Logf("second with 0: %+v %v %+v", a, err, apiErr)
	one := uint64(1)
	a, err = pub(p+".h.a", &one, "id1")
	t.Logf("with 1: %+v %v", a, err)
	a, err = pub(p+".h.a", &one, "id1")
	t.Logf("dup with stale expected: %+v %v", a, err)
	for i := 0; i < 3; i++ {
		m, err := sub.NextMsg(time.Second)
		if err != nil {
			t.Log(err)
			break
		}
		t.Logf("republished %s %v %q", m.Subject, m.Header, m.Data)
	}
	s, _ := js.Stream(ctx, name)
	info, _ := s.Info(ctx)
	t.Logf("%+v", info.Config)
	// direct get nonexistent
	_, err = s.GetLastMsgForSubject(ctx, p+".h.zz")
	t.Logf("missing: %v", err)
	// raw msg get
	r, err := nc.Request("$JS.API.STREAM.MSG.GET."+name, []byte(`{"last_by_subj":"`+p+`.h.a"}`), time.Second)
	t.Logf("raw: %s %v", r.Data, err)
	r, err = nc.Request("$JS.API.STREAM.MSG.GET."+name, []byte(`{"seq":1,"next_by_subj":"`+p+`.h.a"}`), time.Second)
	t.Logf("raw next: %s %v", r.Data, err)
	r, err = nc.Request("$JS.API.STREAM.MSG.GET.NOPE"+name, []byte(`{"last_by_subj":"`+p+`.h.a"}`), time.Second)
	t.Logf("raw nostream: %v %v", r, err)
	if r != nil {
		t.Logf("%s", r.Data)
	}
	_, err = pub(p+".nostream", nil, "")
	t.Logf("no stream publish: %v", err)
}
