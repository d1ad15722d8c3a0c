package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/latch-idp/latch/storage"
)

// Device authorizations (RFC 8628). One authorization is a hash under the
// key of its device code's hash, with the fields
//
//	client    the client it was issued to
//	status    pending, approved, denied, or redeemed once its tokens are out
//	interval  seconds a client must wait between polls (slow_down adds 5)
//	last      when the client last polled, Unix milliseconds
//	exp       when it expires, Unix milliseconds
//	request   the authorization request, or once approved the grant
//
// and its user code points to it from a key of its own. Both live longer
// than the authorization itself, so that a poll after expiry is told
// expired_token and a user code entered late is told it expired, rather
// than that neither exists. Every change is one script, so of two racing
// polls only one takes an approved grant, and of two racing decisions only
// the first counts.

const (
	prefixDevice   = "latch:device:"
	prefixUserCode = "latch:usercode:"
)

// Device statuses.
const (
	DevicePending  = "pending"
	DeviceApproved = "approved"
	DeviceDenied   = "denied"
	DeviceRedeemed = "redeemed"
)

// ErrUserCodeTaken is returned by CreateDevice when the user code is in use.
var ErrUserCodeTaken = errors.New("redis: user code in use")

// Device is a device authorization as the verification page reads it.
type Device struct {
	ID       string // the key of its device code
	ClientID string
	Status   string
	Expires  time.Time
	Request  []byte
}

// NewDevice is what CreateDevice stores.
type NewDevice struct {
	ID       string // the key of its device code (its hash)
	UserCode string // normalized
	ClientID string
	Interval time.Duration
	Expires  time.Time
	Request  []byte
	// Keep is how long both records live: beyond Expires, so that late
	// answers say it expired.
	Keep time.Duration
}

var createDevice = goredis.NewScript(`
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[7]) == false then return 0 end
redis.call('HSET', KEYS[1], 'client', ARGV[2], 'status', 'pending', 'interval', ARGV[3], 'last', '0', 'exp', ARGV[4], 'request', ARGV[5], 'user_code', ARGV[6])
redis.call('PEXPIRE', KEYS[1], ARGV[7])
return 1
`)

// CreateDevice stores a new device authorization; ErrUserCodeTaken when its
// user code belongs to another one still kept.
func (s *Store) CreateDevice(ctx context.Context, d NewDevice) error {
	ok, err := createDevice.Run(ctx, s.rdb, []string{prefixDevice + d.ID, prefixUserCode + d.UserCode},
		d.ID, d.ClientID, int64(d.Interval/time.Second), d.Expires.UnixMilli(), d.Request, d.UserCode, d.Keep.Milliseconds()).Int()
	if err != nil {
		return err
	}
	if ok == 0 {
		return ErrUserCodeTaken
	}
	return nil
}

// DeviceByUserCode returns the device authorization a user code names;
// storage.ErrNotFound when none does.
func (s *Store) DeviceByUserCode(ctx context.Context, userCode string) (Device, error) {
	id, err := s.rdb.Get(ctx, prefixUserCode+userCode).Result()
	if errors.Is(err, goredis.Nil) {
		return Device{}, storage.ErrNotFound
	} else if err != nil {
		return Device{}, err
	}
	return s.Device(ctx, id)
}

// Device returns a device authorization by its key; storage.ErrNotFound
// when there is none.
func (s *Store) Device(ctx context.Context, id string) (Device, error) {
	v, err := s.rdb.HMGet(ctx, prefixDevice+id, "client", "status", "exp", "request").Result()
	if err != nil {
		return Device{}, err
	}
	client, ok := v[0].(string)
	if !ok {
		return Device{}, storage.ErrNotFound
	}
	status, _ := v[1].(string)
	expMS, _ := v[2].(string)
	req, _ := v[3].(string)
	ms, err := strconv.ParseInt(expMS, 10, 64)
	if err != nil {
		return Device{}, fmt.Errorf("redis: device expiry: %w", err)
	}
	return Device{ID: id, ClientID: client, Status: status, Expires: time.UnixMilli(ms), Request: []byte(req)}, nil
}

var decideDevice = goredis.NewScript(`
if redis.call('HGET', KEYS[1], 'status') ~= 'pending' then return 0 end
if tonumber(redis.call('HGET', KEYS[1], 'exp')) <= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'request', ARGV[2])
return 1
`)

// DecideDevice records the user's decision on a pending, unexpired device
// authorization: DeviceApproved with the grant, or DeviceDenied. It
// returns storage.ErrNotFound when the authorization is gone, expired or
// decided already: a user code is answered once.
func (s *Store) DecideDevice(ctx context.Context, id, status string, grant []byte, now time.Time) error {
	ok, err := decideDevice.Run(ctx, s.rdb, []string{prefixDevice + id}, status, grant, now.UnixMilli()).Int()
	if err != nil {
		return err
	}
	if ok == 0 {
		return storage.ErrNotFound
	}
	return nil
}

// Poll outcomes.
const (
	PollUnknown     = "unknown"      // no such device code
	PollWrongClient = "wrong_client" // issued to another client; left alone
	PollExpired     = "expired"
	PollSlowDown    = "slow_down" // polled within the interval, which grew by 5 s
	PollPending     = "pending"
	PollDenied      = "denied"
	PollRedeemed    = "redeemed" // its tokens were issued already
	PollApproved    = "approved" // the grant, taken: no later poll gets it
)

// PollResult is what one poll found.
type PollResult struct {
	Outcome  string
	Interval time.Duration // after slow_down: the new interval
	Grant    []byte        // PollApproved: the grant
}

var pollDevice = goredis.NewScript(`
local v = redis.call('HMGET', KEYS[1], 'client', 'status', 'interval', 'last', 'exp', 'request')
if not v[1] then return {'unknown'} end
if v[1] ~= ARGV[1] then return {'wrong_client'} end
local now = tonumber(ARGV[2])
if now >= tonumber(v[5]) then return {'expired'} end
local interval = tonumber(v[3])
local last = tonumber(v[4])
if last > 0 and now - last < interval * 1000 - tonumber(ARGV[3]) then
  interval = interval + 5
  redis.call('HSET', KEYS[1], 'interval', interval, 'last', now)
  return {'slow_down', tostring(interval)}
end
redis.call('HSET', KEYS[1], 'last', now)
if v[2] == 'approved' then
  redis.call('HSET', KEYS[1], 'status', 'redeemed', 'request', '')
  return {'approved', '0', v[6]}
end
return {v[2]}
`)

// pollSlack is how much sooner than the interval a poll may come without
// slowing the client down: a client that waits exactly the interval sees
// its requests arrive with the network's jitter.
const pollSlack = 500 * time.Millisecond

// PollDevice is one poll of the token endpoint by clientID: it enforces
// the interval (a poll within it is PollSlowDown and adds 5 seconds to
// it, RFC 8628 section 3.5) and takes an approved grant, once.
func (s *Store) PollDevice(ctx context.Context, id, clientID string, now time.Time) (PollResult, error) {
	v, err := pollDevice.Run(ctx, s.rdb, []string{prefixDevice + id}, clientID, now.UnixMilli(), pollSlack.Milliseconds()).StringSlice()
	if err != nil {
		return PollResult{}, err
	}
	res := PollResult{Outcome: v[0]}
	if len(v) > 1 {
		n, err := strconv.Atoi(v[1])
		if err != nil {
			return PollResult{}, fmt.Errorf("redis: device interval: %w", err)
		}
		res.Interval = time.Duration(n) * time.Second
	}
	if len(v) > 2 {
		res.Grant = []byte(v[2])
	}
	return res, nil
}
