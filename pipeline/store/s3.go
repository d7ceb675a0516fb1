package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// S3Options complete the standard AWS configuration (environment, shared
// files, instance roles) for S3-compatible servers.
type S3Options struct {
	Endpoint           string // custom endpoint URL; "" keeps AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL or AWS
	Region             string // "" keeps AWS_REGION / the profile, else us-east-1
	PathStyle          bool   // bucket in the path, as MinIO and versitygw need
	MaxAttempts        int    // per request, with exponential backoff and jitter; 0 means 5
	MultipartThreshold int64  // objects this large go in parts; 0 means 16 MiB
	PartSize           int64  // 0 means 8 MiB (S3's minimum is 5 MiB)
	HTTPClient         *http.Client
}

// S3 is a Store in a bucket under a key prefix.
type S3 struct {
	client   *s3.Client
	uploader *transfermanager.Client
	bucket   string
	prefix   string // "" or ending in "/"
	opts     S3Options
}

// ParseS3 splits "s3://bucket/prefix" into bucket and prefix ("" or ending in "/").
func ParseS3(location string) (bucket, prefix string, err error) {
	rest, ok := strings.CutPrefix(location, "s3://")
	if !ok {
		return "", "", fmt.Errorf("%w: %q is not s3://bucket/prefix", ErrLocation, location)
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	if bucket == "" {
		return "", "", fmt.Errorf("%w: %q has no bucket", ErrLocation, location)
	}
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		if err := checkKey(prefix); err != nil {
			return "", "", fmt.Errorf("%w: %q: %w", ErrLocation, location, err)
		}
		prefix += "/"
	}
	return bucket, prefix, nil
}

// OpenS3 connects to the bucket of an s3:// location. It does not touch the
// network; the first request does.
func OpenS3(ctx context.Context, location string, o S3Options) (*S3, error) {
	bucket, prefix, err := ParseS3(location)
	if err != nil {
		return nil, err
	}
	attempts := o.MaxAttempts
	if attempts <= 0 {
		attempts = 5
	}
	loads := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(so *retry.StandardOptions) { so.MaxAttempts = attempts })
		}),
	}
	if o.Region != "" {
		loads = append(loads, config.WithRegion(o.Region))
	}
	if o.HTTPClient != nil {
		loads = append(loads, config.WithHTTPClient(o.HTTPClient))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loads...)
	if err != nil {
		return nil, fmt.Errorf("configure S3 for %s: %w", location, err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	client := s3.NewFromConfig(cfg, func(so *s3.Options) {
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
		}
		so.UsePathStyle = o.PathStyle
	})
	up := transfermanager.New(client, func(to *transfermanager.Options) {
		if o.PartSize > 0 {
			to.PartSizeBytes = o.PartSize
		}
		if o.MultipartThreshold > 0 {
			to.MultipartUploadThreshold = o.MultipartThreshold
		}
	})
	return &S3{client: client, uploader: up, bucket: bucket, prefix: prefix, opts: o}, nil
}

func (s *S3) String() string { return "s3://" + s.bucket + "/" + s.prefix }

func (s *S3) key(key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	return s.prefix + key, nil
}

func (s *S3) threshold() int64 {
	if s.opts.MultipartThreshold > 0 {
		return s.opts.MultipartThreshold
	}
	return 16 << 20
}

// Put uploads the object; large ones go in parts, which S3 assembles
// atomically on completion.
func (s *S3) Put(ctx context.Context, key string, data []byte) error {
	k, err := s.key(key)
	if err != nil {
		return err
	}
	if int64(len(data)) >= s.threshold() {
		_, err = s.uploader.UploadObject(ctx, &transfermanager.UploadObjectInput{
			Bucket: aws.String(s.bucket), Key: aws.String(k), Body: bytes.NewReader(data),
			ContentType: aws.String(ContentType(key)),
		})
	} else {
		_, err = s.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(s.bucket), Key: aws.String(k), Body: bytes.NewReader(data),
			ContentLength: aws.Int64(int64(len(data))), ContentType: aws.String(ContentType(key)),
		})
	}
	if err != nil {
		return fmt.Errorf("put %s%s: %w", s, key, err)
	}
	return nil
}

// Create uploads the object with If-None-Match: *, so that of two writers
// exactly one succeeds.
func (s *S3) Create(ctx context.Context, key string, data []byte) error {
	k, err := s.key(key)
	if err != nil {
		return err
	}
	_, err = s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(s.bucket), Key: aws.String(k), Body: bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))), ContentType: aws.String(ContentType(key)),
		IfNoneMatch: aws.String("*"),
	})
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) && (ae.ErrorCode() == "PreconditionFailed" || ae.ErrorCode() == "ConditionalRequestConflict") {
			return fmt.Errorf("%w: %s%s", ErrExists, s, key)
		}
		return fmt.Errorf("create %s%s: %w", s, key, err)
	}
	return nil
}

// Get downloads an object.
func (s *S3) Get(ctx context.Context, key string) ([]byte, error) {
	k, err := s.key(key)
	if err != nil {
		return nil, err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(k)})
	if err != nil {
		var nsk *types.NoSuchKey
		var ae smithy.APIError
		if errors.As(err, &nsk) || (errors.As(err, &ae) && ae.ErrorCode() == "NotFound") {
			return nil, fmt.Errorf("%w: %s%s", ErrNotFound, s, key)
		}
		return nil, fmt.Errorf("get %s%s: %w", s, key, err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, fmt.Errorf("get %s%s: %w", s, key, err)
	}
	return data, nil
}

// List pages through the keys under prefix.
func (s *S3) List(ctx context.Context, prefix string) ([]string, error) {
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(s.prefix + prefix)})
	var keys []string
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list %s%s: %w", s, prefix, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, strings.TrimPrefix(aws.ToString(o.Key), s.prefix))
		}
	}
	return keys, nil
}

// Delete removes an object.
func (s *S3) Delete(ctx context.Context, key string) error {
	k, err := s.key(key)
	if err != nil {
		return err
	}
	if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(k)}); err != nil {
		return fmt.Errorf("delete %s%s: %w", s, key, err)
	}
	return nil
}

// CreateBucket creates the store's bucket if it does not exist, for tests
// and the demo against a fresh server.
func (s *S3) CreateBucket(ctx context.Context) error {
	_, err := s.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(s.bucket)})
	var owned *types.BucketAlreadyOwnedByYou
	var exists *types.BucketAlreadyExists
	if err != nil && !errors.As(err, &owned) && !errors.As(err, &exists) {
		return fmt.Errorf("create bucket %s: %w", s.bucket, err)
	}
	return nil
}
