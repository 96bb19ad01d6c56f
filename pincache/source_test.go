package pincache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cardmod/cardmod/minidriver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countingPrompt answers with pin and records the requests.
type countingPrompt struct {
	mu   sync.Mutex
	pin  string
	err  error
	reqs []Request
}

func (p *countingPrompt) PIN(_ context.Context, r Request) (*Secret, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reqs = append(p.reqs, r)
	if p.err != nil {
		return nil, p.err
	}
	return NewSecret([]byte(p.pin)), nil
}

func (p *countingPrompt) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.reqs)
}

// fakeCard verifies PINs like a card: it knows the right PIN and counts
// attempts.
type fakeCard struct {
	mu       sync.Mutex
	pin      string
	left     int
	verifies int
}

func (f *fakeCard) verify(s *Secret) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.verifies++
	if f.left == 0 {
		return &minidriver.PINError{PIN: minidriver.RoleUser, Blocked: true}
	}
	if !s.Equal(NewSecret([]byte(f.pin))) {
		f.left--
		return &minidriver.PINError{PIN: minidriver.RoleUser, AttemptsLeft: f.left, Blocked: f.left == 0}
	}
	f.left = 3
	return nil
}

// authenticate is the caller's side of one authentication.
func authenticate(ctx context.Context, src *Source, card *fakeCard, req Request) (cached bool, err error) {
	att, err := src.Begin(ctx, req)
	if err != nil {
		return false, err
	}
	err = card.verify(att.Secret())
	att.Done(err)
	return att.Cached(), err
}

func userRequest(p minidriver.PINCachePolicy) Request {
	return Request{PIN: minidriver.RoleUser, Info: userInfo(p), Card: cardA, CardName: "Test card", AttemptsLeft: -1}
}

func TestSourcePolicies(t *testing.T) {
	cases := []struct {
		name        string
		policy      minidriver.PINCachePolicy
		wantPrompts int // after three authentications
	}{
		{"normal", normal, 1},
		{"timed", timed60, 1},
		{"none", none, 3},
		{"always prompt", alwaysPrompt, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			prompt := &countingPrompt{pin: testPIN}
			src := &Source{Cache: New(Config{Now: newFakeClock().Now}), Prompt: prompt}
			card := &fakeCard{pin: testPIN, left: 3}
			for i := range 3 {
				cached, err := authenticate(context.Background(), src, card, userRequest(tc.policy))
				require.NoError(t, err)
				assert.Equal(t, i > 0 && tc.wantPrompts == 1, cached)
			}
			assert.Equal(t, tc.wantPrompts, prompt.count())
			assert.Equal(t, 3, card.verifies)
			wantLen := 0
			if tc.wantPrompts == 1 {
				wantLen = 1
			}
			assert.Equal(t, wantLen, src.Cache.Len())
		})
	}
}

// TestSourceFailedCachedPINPrompts: a cached PIN that the card refuses is
// dropped; the next authentication prompts instead of retrying it.
func TestSourceFailedCachedPINPrompts(t *testing.T) {
	for _, blocked := range []bool{false, true} {
		t.Run(fmt.Sprintf("blocked=%v", blocked), func(t *testing.T) {
			prompt := &countingPrompt{pin: testPIN}
			src := &Source{Cache: New(Config{}), Prompt: prompt}
			card := &fakeCard{pin: testPIN, left: 3}
			req := userRequest(normal)

			_, err := authenticate(context.Background(), src, card, req)
			require.NoError(t, err)
			require.Equal(t, 1, prompt.count())

			// Another process changes the PIN (without our seeing cardcf).
			card.mu.Lock()
			card.pin = "314159"
			if blocked {
				card.left = 0
			}
			card.mu.Unlock()

			att, err := src.Begin(context.Background(), req)
			require.NoError(t, err)
			require.True(t, att.Cached())
			buf := att.Secret().Bytes()
			verr := card.verify(att.Secret())
			require.True(t, IsPINFailure(verr))
			att.Done(verr)
			assert.True(t, isZero(buf), "failed PIN wiped")
			assert.Zero(t, src.Cache.Len(), "failed cached PIN dropped")
			assert.Equal(t, 1, prompt.count(), "no prompt and no retry inside Done")
			assert.Equal(t, 2, card.verifies, "the cached PIN was tried once")

			// The next authentication prompts.
			prompt.mu.Lock()
			prompt.pin = "314159"
			prompt.mu.Unlock()
			cached, err := authenticate(context.Background(), src, card, req.Retrying(verr))
			assert.False(t, cached)
			assert.Equal(t, 2, prompt.count())
			last := prompt.reqs[len(prompt.reqs)-1]
			assert.True(t, last.Retry)
			if blocked {
				assert.ErrorIs(t, err, minidriver.ErrPINBlocked)
				assert.Zero(t, last.AttemptsLeft)
			} else {
				require.NoError(t, err)
				assert.Equal(t, 2, last.AttemptsLeft)
			}
			// The next plain authentication: the PIN that worked on the
			// retry is cached; after a block nothing is, so it prompts.
			cached, err = authenticate(context.Background(), src, card, req)
			if blocked {
				assert.ErrorIs(t, err, minidriver.ErrPINBlocked)
				assert.False(t, cached)
				assert.Equal(t, 3, prompt.count())
			} else {
				require.NoError(t, err)
				assert.True(t, cached)
				assert.Equal(t, 2, prompt.count())
			}
		})
	}
}

func TestSourceRetrySkipsCache(t *testing.T) {
	prompt := &countingPrompt{pin: testPIN}
	src := &Source{Cache: New(Config{}), Prompt: prompt}
	require.NoError(t, src.Cache.Put(cardA, minidriver.RoleUser, normal, NewSecret([]byte(testPIN))))
	req := userRequest(normal)
	req.Retry = true
	att, err := src.Begin(context.Background(), req)
	require.NoError(t, err)
	assert.False(t, att.Cached())
	assert.Equal(t, 1, prompt.count())
	att.Done(nil)
}

func TestSourceTimedNotExtendedByUse(t *testing.T) {
	clk := newFakeClock()
	prompt := &countingPrompt{pin: testPIN}
	src := &Source{Cache: New(Config{Now: clk.Now}), Prompt: prompt}
	card := &fakeCard{pin: testPIN, left: 3}
	req := userRequest(timed60)
	for _, step := range []struct {
		advance time.Duration
		cached  bool
	}{
		{0, false},
		{40 * time.Second, true},
		{15 * time.Second, true},
		{10 * time.Second, false}, // 65 s after insertion, despite the uses
		{30 * time.Second, true},
	} {
		clk.Advance(step.advance)
		cached, err := authenticate(context.Background(), src, card, req)
		require.NoError(t, err)
		assert.Equal(t, step.cached, cached)
	}
	assert.Equal(t, 2, prompt.count())
}

func TestSourceSilent(t *testing.T) {
	cases := []struct {
		name   string
		policy minidriver.PINCachePolicy
		cached bool
		prompt Prompt
		silent bool
		wantOK bool
	}{
		{"silent, cached normal", normal, true, &countingPrompt{pin: testPIN}, true, true},
		{"silent, nothing cached", normal, false, &countingPrompt{pin: testPIN}, true, false},
		{"silent, always prompt", alwaysPrompt, true, &countingPrompt{pin: testPIN}, true, false},
		{"silent, none", none, true, &countingPrompt{pin: testPIN}, true, false},
		{"no prompt, cached", normal, true, nil, false, true},
		{"no prompt, nothing cached", normal, false, nil, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := &Source{Cache: New(Config{}), Prompt: tc.prompt, Silent: tc.silent}
			if tc.cached {
				// Seed as a Normal PIN, whatever the request's policy.
				require.NoError(t, src.Cache.Put(cardA, minidriver.RoleUser, normal, NewSecret([]byte(testPIN))))
			}
			att, err := src.Begin(context.Background(), userRequest(tc.policy))
			if tc.wantOK {
				require.NoError(t, err)
				assert.True(t, att.Cached())
				att.Done(nil)
				return
			}
			require.ErrorIs(t, err, ErrSilent)
			assert.Equal(t, CodeSilentContext, Code(err))
			assert.Nil(t, att)
			if cp, ok := tc.prompt.(*countingPrompt); ok {
				assert.Zero(t, cp.count(), "never prompts when silent")
			}
		})
	}
}

func TestSourcePromptErrors(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cases := []struct {
		name   string
		ctx    context.Context
		prompt Prompt
		want   error
	}{
		{"cancel", context.Background(), &countingPrompt{err: fmt.Errorf("dialog: %w", ErrCancelled)}, ErrCancelled},
		{"nil PIN", context.Background(), Func(func(context.Context, Request) (*Secret, error) { return nil, nil }), ErrCancelled},
		{"empty PIN", context.Background(), Func(func(context.Context, Request) (*Secret, error) { return NewSecret(nil), nil }), ErrCancelled},
		{"context ended", ctx, &countingPrompt{pin: testPIN}, context.Canceled},
		{"prompt failure", context.Background(), &countingPrompt{err: errors.New("no display")}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := &Source{Cache: New(Config{}), Prompt: tc.prompt}
			att, err := src.Begin(tc.ctx, userRequest(normal))
			require.Error(t, err)
			assert.Nil(t, att)
			if tc.want != nil {
				assert.ErrorIs(t, err, tc.want)
			}
			if tc.want == ErrCancelled {
				assert.Equal(t, CodeCancelledByUser, Code(err))
			}
			assert.Contains(t, err.Error(), "pincache: ")
			assert.Zero(t, src.Cache.Len())
		})
	}
}

func TestSourceRejectsRequests(t *testing.T) {
	cases := []struct {
		name string
		mod  func(r *Request)
	}{
		{"PIN ID 8", func(r *Request) { r.PIN = 8 }},
		{"external PIN", func(r *Request) { r.Info.Type = minidriver.ExternalPIN }},
		{"challenge-response", func(r *Request) { r.Info.Type = minidriver.ChallengeResponsePIN }},
		{"empty PIN type", func(r *Request) { r.Info.Type = minidriver.EmptyPIN }},
		{"bad purpose", func(r *Request) { r.Info.Purpose = 99 }},
		{"bad policy", func(r *Request) { r.Info.CachePolicy.Type = 99 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			prompt := &countingPrompt{pin: testPIN}
			src := &Source{Cache: New(Config{}), Prompt: prompt}
			req := userRequest(normal)
			tc.mod(&req)
			_, err := src.Begin(context.Background(), req)
			assert.ErrorIs(t, err, minidriver.ErrInvalidParameter)
			assert.Zero(t, prompt.count())
		})
	}
}

func TestAttemptDone(t *testing.T) {
	cases := []struct {
		name      string
		cached    bool
		err       error
		wantKept  bool // the cache holds the PIN afterwards
		wantWiped bool // the attempt's buffer is zeroed
	}{
		{"prompted, success", false, nil, true, false},
		{"prompted, wrong", false, &minidriver.PINError{PIN: 1, AttemptsLeft: 2}, false, true},
		{"prompted, transport error", false, errors.New("card removed"), false, true},
		{"cached, success", true, nil, true, true},
		{"cached, wrong", true, fmt.Errorf("wrapped: %w", &minidriver.PINError{PIN: 1, AttemptsLeft: 2}), false, true},
		{"cached, blocked", true, &minidriver.PINError{PIN: 1, Blocked: true}, false, true},
		{"cached, sentinel", true, minidriver.ErrWrongPIN, false, true},
		{"cached, transport error", true, errors.New("card removed"), true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := &Source{Cache: New(Config{}), Prompt: &countingPrompt{pin: testPIN}}
			if tc.cached {
				require.NoError(t, src.Cache.Put(cardA, minidriver.RoleUser, normal, NewSecret([]byte(testPIN))))
			}
			att, err := src.Begin(context.Background(), userRequest(normal))
			require.NoError(t, err)
			require.Equal(t, tc.cached, att.Cached())
			buf := att.Secret().Bytes()
			att.Done(tc.err)
			att.Done(nil) // a second call does nothing
			assert.Nil(t, att.Secret())
			assert.Equal(t, tc.wantWiped, isZero(buf))
			got, ok := src.Cache.Get(cardA, minidriver.RoleUser, normal)
			assert.Equal(t, tc.wantKept, ok)
			if ok {
				assert.Equal(t, testPIN, string(got.Bytes()))
			}
		})
	}
	var nilAttempt *Attempt
	nilAttempt.Done(nil)
}

func TestSourceWithoutCache(t *testing.T) {
	prompt := &countingPrompt{pin: testPIN}
	src := &Source{Prompt: prompt}
	card := &fakeCard{pin: testPIN, left: 3}
	for range 2 {
		_, err := authenticate(context.Background(), src, card, userRequest(normal))
		require.NoError(t, err)
	}
	assert.Equal(t, 2, prompt.count())
}

func TestSourceConcurrent(t *testing.T) {
	var prompts atomic.Int32
	prompt := Func(func(context.Context, Request) (*Secret, error) {
		prompts.Add(1)
		return NewSecret([]byte(testPIN)), nil
	})
	clk := newFakeClock()
	src := &Source{Cache: New(Config{Now: clk.Now}), Prompt: prompt}
	cards := []CardID{cardA, cardB}
	policies := []minidriver.PINCachePolicy{normal, timed60, none, alwaysPrompt}
	fc := &fakeCard{pin: testPIN, left: 1 << 30}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 200 {
				req := userRequest(policies[(g+i)%len(policies)])
				req.Card = cards[i%2]
				att, err := src.Begin(context.Background(), req)
				if err != nil {
					t.Errorf("Begin: %v", err)
					return
				}
				verr := fc.verify(att.Secret())
				if i%17 == 0 {
					verr = &minidriver.PINError{PIN: req.PIN, AttemptsLeft: 2}
				}
				att.Done(verr)
				if i%50 == 0 {
					src.Cache.ObserveFreshness(req.Card, byte(i))
					clk.Advance(time.Second)
				}
			}
		})
	}
	wg.Wait()
	assert.Positive(t, prompts.Load())
}

// TestNoPINInErrors drives every error path with a PIN in play and checks
// that no error text holds it.
func TestNoPINInErrors(t *testing.T) {
	var errs []error
	collect := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	c := New(Config{})
	collect(c.Put(cardA, 9, normal, NewSecret([]byte(testPIN))))
	collect(c.Put(cardA, 1, minidriver.PINCachePolicy{Type: 7}, NewSecret([]byte(testPIN))))

	src := &Source{Cache: c, Prompt: NewFixed([]byte(testPIN)), Silent: true}
	_, err := src.Begin(context.Background(), userRequest(normal))
	collect(err)
	src.Silent = false
	req := userRequest(normal)
	req.Retry = true
	_, err = src.Begin(context.Background(), req)
	collect(err)

	term := &Terminal{
		In:           nil,
		Out:          &safeBuffer{},
		MaxLen:       3,
		ReadPassword: func(int) ([]byte, error) { return []byte(testPIN), nil },
	}
	_, err = term.PIN(context.Background(), userRequest(normal))
	collect(err)
	ctx, cancel := context.WithCancel(context.Background())
	term.MaxLen = 0
	term.ReadPassword = func(int) ([]byte, error) { cancel(); return []byte(testPIN), nil }
	_, err = term.PIN(ctx, userRequest(normal))
	collect(err)
	term.ReadPassword = func(int) ([]byte, error) { return []byte(testPIN[:2]), errors.New("read error") }
	_, err = term.PIN(context.Background(), userRequest(normal))
	collect(err)

	require.Len(t, errs, 7)
	for _, err := range errs {
		assert.NotContains(t, err.Error(), testPIN)
		assert.NotContains(t, fmt.Sprintf("%+v", err), testPIN)
		assert.NotContains(t, fmt.Sprintf("%#v", err), testPIN)
	}
}

func TestCode(t *testing.T) {
	cases := []struct {
		err  error
		want uint32
	}{
		{nil, 0},
		{ErrCancelled, 0x8010006E},
		{fmt.Errorf("x: %w", ErrCancelled), 0x8010006E},
		{ErrSilent, 0x80090022},
		{&minidriver.PINError{PIN: 1, AttemptsLeft: 1}, 0x8010006B},
		{&minidriver.PINError{PIN: 1, Blocked: true}, 0x8010006C},
		{errors.New("other"), 0x8010001F},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, Code(tc.err), "%v", tc.err)
	}
}
