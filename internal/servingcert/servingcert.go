// Package servingcert gives innokeda a serving certificate of its own, so that nothing
// certificate-shaped is generated when the chart is rendered. open-policy-agent's
// cert-controller, on the leader, issues a CA and a certificate into a Secret, puts the CA
// into innokeda's two webhook configurations' caBundle and issues a new certificate before
// the old one expires. Every replica serves whatever certificate the Secret holds now, from
// memory: a rotation takes effect at once, without waiting for the kubelet to refresh a
// mounted volume.
package servingcert

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/open-policy-agent/cert-controller/pkg/rotator"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// The Secret's keys: cert-controller's, which are also what a kubernetes.io/tls Secret
// and cert-manager use, so the ServiceMonitor reads ca.crt from either.
const (
	CertKey = "tls.crt"
	KeyKey  = "tls.key"
	CAKey   = "ca.crt"
)

// Options say where the certificate lives, whom it names and how long it lasts.
type Options struct {
	// The Secret, in innokeda's namespace. It must exist (the chart renders it empty):
	// cert-controller updates it and never creates it, so RBAC can name it.
	Namespace  string
	SecretName string
	// DNSNames the certificate is valid for; the first is its common name.
	DNSNames []string
	// The webhook configurations whose caBundle is kept.
	MutatingWebhook   string
	ValidatingWebhook string
	// CertDir receives tls.crt and tls.key as they change. cert-controller waits for them
	// there (it expects a mounted Secret) before it reports the CA injected.
	CertDir string
	// Validity of each serving certificate; a new one is issued when less than
	// RenewBefore is left, looked at every CheckInterval.
	Validity      time.Duration
	RenewBefore   time.Duration
	CheckInterval time.Duration
}

// Validate reports options cert-controller would misbehave with.
func (o Options) Validate() error {
	switch {
	case o.Namespace == "":
		return errors.New("innokeda's namespace is not known: set --namespace or the POD_NAMESPACE environment variable")
	case o.SecretName == "" || o.MutatingWebhook == "" || o.ValidatingWebhook == "":
		return errors.New("the certificate's Secret and both webhook configurations must be named")
	case len(o.DNSNames) == 0:
		return errors.New("the certificate must name at least one DNS name")
	case o.CertDir == "":
		return errors.New("the certificate needs a directory to be written to")
	case o.CheckInterval <= 0:
		return fmt.Errorf("the certificate check interval must be positive, not %v", o.CheckInterval)
	case o.RenewBefore <= 0 || o.RenewBefore >= o.Validity:
		// Renewing when less than the whole validity is left would renew at every check.
		return fmt.Errorf("the certificate must be renewed before it expires and after it is issued: renew-before %v, validity %v", o.RenewBefore, o.Validity)
	}
	return nil
}

// ServiceDNSNames are the names a Service is reached by from inside the cluster: what the
// API server asks for when it calls a webhook, and what Prometheus asks for.
func ServiceDNSNames(namespace, clusterDomain string, services ...string) []string {
	var names []string
	for _, s := range services {
		names = append(names, s+"."+namespace+".svc", s+"."+namespace+".svc."+clusterDomain)
	}
	return names
}

// Source serves the Secret's current certificate. Its zero value has none yet.
type Source struct {
	certDir string
	current atomic.Pointer[tls.Certificate]
	// trusted is the certificate last found trusted by the webhook configurations' caBundle,
	// by trustedBy (nil: no such check).
	trusted   atomic.Pointer[tls.Certificate]
	trustedBy func(ctx context.Context, leaf *x509.Certificate) error
	// mu orders the writes of the files.
	mu      sync.Mutex
	written []byte
}

// NewSource returns a Source that also writes what it serves into certDir.
func NewSource(certDir string) *Source { return &Source{certDir: certDir} }

// GetCertificate is the servers' tls.Config.GetCertificate.
func (s *Source) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if c := s.current.Load(); c != nil {
		return c, nil
	}
	return nil, errors.New("innokeda's serving certificate has not been issued yet")
}

// Ready is a readiness check: not ready until there is a certificate to serve and the
// webhook configurations' caBundle trusts it, so that a Service never sends the API server
// to a replica whose certificate it would refuse. Each certificate is checked until found
// trusted once: an API server outage later does not make a serving replica unready.
func (s *Source) Ready(req *http.Request) error {
	current := s.current.Load()
	if current == nil {
		return errors.New("waiting for the serving certificate to be issued into its Secret")
	}
	if s.trustedBy == nil || s.trusted.Load() == current {
		return nil
	}
	if err := s.trustedBy(req.Context(), current.Leaf); err != nil { // Leaf: set by tls.X509KeyPair
		return err
	}
	s.trusted.Store(current)
	return nil
}

// caBundlesTrust returns a check that every webhook of the two configurations has a
// caBundle that leaf verifies against.
func caBundlesTrust(reader client.Reader, mutating, validating string) func(context.Context, *x509.Certificate) error {
	return func(ctx context.Context, leaf *x509.Certificate) error {
		var m admissionregistrationv1.MutatingWebhookConfiguration
		var v admissionregistrationv1.ValidatingWebhookConfiguration
		if err := reader.Get(ctx, client.ObjectKey{Name: mutating}, &m); err != nil {
			return fmt.Errorf("read MutatingWebhookConfiguration %s: %w", mutating, err)
		}
		if err := reader.Get(ctx, client.ObjectKey{Name: validating}, &v); err != nil {
			return fmt.Errorf("read ValidatingWebhookConfiguration %s: %w", validating, err)
		}
		bundles := map[string][]byte{}
		for _, w := range m.Webhooks {
			bundles["webhook "+w.Name+" of MutatingWebhookConfiguration "+mutating] = w.ClientConfig.CABundle
		}
		for _, w := range v.Webhooks {
			bundles["webhook "+w.Name+" of ValidatingWebhookConfiguration "+validating] = w.ClientConfig.CABundle
		}
		for name, bundle := range bundles {
			roots := x509.NewCertPool()
			if !roots.AppendCertsFromPEM(bundle) {
				return fmt.Errorf("waiting for the CA to be put into the caBundle of %s", name)
			}
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
				return fmt.Errorf("the caBundle of %s does not trust the serving certificate yet: %w", name, err)
			}
		}
		return nil
	}
}

// load takes the Secret's certificate, when it holds a valid pair, and writes it to the
// directory. Errors never quote the Secret's data.
func (s *Source) load(secret *corev1.Secret) error {
	certPEM, keyPEM := secret.Data[CertKey], secret.Data[KeyKey]
	if len(certPEM) == 0 || len(keyPEM) == 0 {
		return nil // not issued yet: the leader's cert-controller will fill it
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return errors.New("the Secret's tls.crt and tls.key are not a certificate and its key")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.current.Store(&pair)
	if bytes.Equal(s.written, certPEM) {
		return nil
	}
	// The key first: whoever watches the directory reloads on tls.crt.
	for _, f := range []struct {
		name string
		data []byte
	}{{KeyKey, keyPEM}, {CertKey, certPEM}} {
		if err := writeAtomically(filepath.Join(s.certDir, f.name), f.data); err != nil {
			return err
		}
	}
	s.written = bytes.Clone(certPEM)
	return nil
}

// writeAtomically replaces path by a file holding data, readable by its owner only.
func writeAtomically(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("write the serving certificate: %w", err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write the serving certificate: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write the serving certificate: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write the serving certificate: %w", err)
	}
	return nil
}

// Setup adds cert-controller's rotator to mgr, and a watch of the one Secret that feeds
// source on every replica.
func Setup(mgr manager.Manager, o Options, source *Source) error {
	if err := o.Validate(); err != nil {
		return err
	}
	if err := os.MkdirAll(o.CertDir, 0o700); err != nil {
		return fmt.Errorf("create the certificate directory: %w", err)
	}
	// Only the leader rotates, so replicas never race to issue a CA each; all of them
	// serve what the Secret holds.
	err := rotator.AddRotator(mgr, &rotator.CertRotator{
		SecretKey:              types.NamespacedName{Namespace: o.Namespace, Name: o.SecretName},
		CertDir:                o.CertDir,
		CAName:                 "innokeda-ca",
		CAOrganization:         "innokeda",
		DNSName:                o.DNSNames[0],
		ExtraDNSNames:          o.DNSNames[1:],
		IsReady:                make(chan struct{}),
		Webhooks:               []rotator.WebhookInfo{{Name: o.MutatingWebhook, Type: rotator.Mutating}, {Name: o.ValidatingWebhook, Type: rotator.Validating}},
		FieldOwner:             "innokeda",
		RequireLeaderElection:  true,
		ServerCertDuration:     o.Validity,
		LookaheadInterval:      o.RenewBefore,
		RotationCheckFrequency: o.CheckInterval,
	})
	if err != nil {
		return fmt.Errorf("set up certificate rotation: %w", err)
	}
	// A cache of exactly the one Secret (a field selector on its name), so this watch
	// needs no right beyond it.
	secretCache, err := cache.New(mgr.GetConfig(), cache.Options{
		Scheme:            mgr.GetScheme(),
		Mapper:            mgr.GetRESTMapper(),
		DefaultNamespaces: map[string]cache.Config{o.Namespace: {}},
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}: {Field: fields.OneTermEqualSelector("metadata.name", o.SecretName)},
		},
	})
	if err != nil {
		return fmt.Errorf("set up the serving certificate's watch: %w", err)
	}
	if err := mgr.Add(everyReplica{secretCache}); err != nil {
		return err
	}
	source.trustedBy = caBundlesTrust(mgr.GetAPIReader(), o.MutatingWebhook, o.ValidatingWebhook)
	log := mgr.GetLogger().WithName("serving-certificate").WithValues("secret", o.Namespace+"/"+o.SecretName)
	return mgr.Add(everyReplica{&secretWatch{cache: secretCache, source: source, log: log}})
}

// everyReplica runs a Runnable whether or not this replica leads.
type everyReplica struct{ manager.Runnable }

func (everyReplica) NeedLeaderElection() bool { return false }

// secretWatch loads the Secret into the Source whenever it changes.
type secretWatch struct {
	cache  cache.Cache
	source *Source
	log    logr.Logger
}

func (w *secretWatch) Start(ctx context.Context) error {
	informer, err := w.cache.GetInformer(ctx, &corev1.Secret{})
	if err != nil {
		return fmt.Errorf("watch the serving certificate's Secret: %w", err)
	}
	loadFrom := func(obj any) {
		secret, ok := obj.(*corev1.Secret)
		if !ok {
			return
		}
		if err := w.source.load(secret); err != nil {
			w.log.Error(err, "Cannot serve the Secret's certificate; serving the previous one")
		}
	}
	if _, err := informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    loadFrom,
		UpdateFunc: func(_, obj any) { loadFrom(obj) },
	}); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}
