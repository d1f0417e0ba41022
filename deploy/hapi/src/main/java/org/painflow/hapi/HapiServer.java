package org.painflow.hapi;

import ca.uhn.fhir.batch2.jobs.config.Batch2JobsConfig;
import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.jpa.api.config.JpaStorageSettings;
import ca.uhn.fhir.jpa.api.config.ThreadPoolFactoryConfig;
import ca.uhn.fhir.jpa.api.dao.IFhirSystemDao;
import ca.uhn.fhir.jpa.batch2.JpaBatch2Config;
import ca.uhn.fhir.jpa.config.HapiJpaConfig;
import ca.uhn.fhir.jpa.config.r4.JpaR4Config;
import ca.uhn.fhir.jpa.config.util.HapiEntityManagerFactoryUtil;
import ca.uhn.fhir.jpa.model.config.PartitionSettings;
import ca.uhn.fhir.jpa.model.config.SubscriptionSettings;
import ca.uhn.fhir.jpa.model.dialect.HapiFhirPostgresDialect;
import ca.uhn.fhir.jpa.provider.JpaSystemProvider;
import ca.uhn.fhir.jpa.subscription.channel.config.SubscriptionChannelConfig;
import ca.uhn.fhir.rest.server.RestfulServer;
import ca.uhn.fhir.rest.server.provider.ResourceProviderFactory;
import com.zaxxer.hikari.HikariDataSource;
import jakarta.persistence.EntityManagerFactory;
import java.util.Properties;
import javax.sql.DataSource;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.springframework.beans.factory.config.ConfigurableListableBeanFactory;
import org.springframework.context.annotation.AnnotationConfigApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Import;
import org.springframework.context.annotation.Primary;
import org.springframework.orm.jpa.JpaTransactionManager;
import org.springframework.orm.jpa.LocalContainerEntityManagerFactoryBean;
import org.springframework.transaction.annotation.EnableTransactionManagement;

/**
 * The benchmark's Java reference (issue 12): HAPI FHIR's R4 JPA server, plain Spring + embedded
 * Jetty, on PostgreSQL. Hibernate creates the schema (HAPI's PostgreSQL dialect, JDBC insert
 * batches of 20); batch jobs run on HAPI's in-memory (LinkedBlocking) message broker.
 *
 * <p>System properties: hapi.port (8090), hapi.jdbc.url, hapi.jdbc.user, hapi.jdbc.password,
 * hapi.pool (connections, 20). Serves FHIR at http://127.0.0.1:PORT/fhir.
 */
public final class HapiServer {
  private HapiServer() {}

  public static void main(String[] args) throws Exception {
    int port = Integer.getInteger("hapi.port", 8090);
    AnnotationConfigApplicationContext spring = new AnnotationConfigApplicationContext(Config.class);
    RestfulServer fhir = spring.getBean(RestfulServer.class);
    QueuedThreadPool threads = new QueuedThreadPool(64, 8);
    Server jetty = new Server(threads);
    ServerConnector connector = new ServerConnector(jetty);
    connector.setHost("127.0.0.1");
    connector.setPort(port);
    jetty.addConnector(connector);
    ServletContextHandler context = new ServletContextHandler();
    context.setContextPath("/");
    context.addServlet(new ServletHolder(fhir), "/fhir/*");
    jetty.setHandler(context);
    jetty.setStopAtShutdown(true);
    Runtime.getRuntime().addShutdownHook(new Thread(spring::close));
    jetty.start();
    System.out.println("HAPI FHIR JPA server ready on http://127.0.0.1:" + port + "/fhir");
    jetty.join();
  }

  /** What the starter project's configuration provides, reduced to what R4 JPA needs. */
  @Configuration
  @EnableTransactionManagement
  @Import({
    JpaR4Config.class,
    HapiJpaConfig.class,
    JpaBatch2Config.class,
    Batch2JobsConfig.class,
    SubscriptionChannelConfig.class,
    ThreadPoolFactoryConfig.class
  })
  public static class Config {
    @Bean
    public DataSource dataSource() {
      HikariDataSource ds = new HikariDataSource();
      ds.setJdbcUrl(System.getProperty("hapi.jdbc.url"));
      ds.setUsername(System.getProperty("hapi.jdbc.user", "painflow"));
      ds.setPassword(System.getProperty("hapi.jdbc.password", "painflow"));
      ds.setMaximumPoolSize(Integer.getInteger("hapi.pool", 20));
      return ds;
    }

    @Bean
    public JpaStorageSettings storageSettings() {
      JpaStorageSettings settings = new JpaStorageSettings();
      settings.setAllowExternalReferences(true);
      return settings;
    }

    @Bean
    public PartitionSettings partitionSettings() {
      return new PartitionSettings();
    }

    @Bean
    public SubscriptionSettings subscriptionSettings() {
      return new SubscriptionSettings();
    }

    @Primary
    @Bean
    public LocalContainerEntityManagerFactoryBean entityManagerFactory(
        DataSource dataSource,
        ConfigurableListableBeanFactory beans,
        FhirContext fhirContext,
        JpaStorageSettings storageSettings) {
      LocalContainerEntityManagerFactoryBean factory =
          HapiEntityManagerFactoryUtil.newEntityManagerFactory(beans, fhirContext, storageSettings);
      factory.setPersistenceUnitName("HAPI_PU");
      factory.setDataSource(dataSource);
      Properties jpa = new Properties();
      jpa.put("hibernate.dialect", HapiFhirPostgresDialect.class.getName());
      jpa.put("hibernate.hbm2ddl.auto", "update");
      jpa.put("hibernate.jdbc.batch_size", "20");
      jpa.put("hibernate.order_inserts", "true");
      jpa.put("hibernate.order_updates", "true");
      jpa.put("hibernate.format_sql", "false");
      jpa.put("hibernate.show_sql", "false");
      jpa.put("hibernate.search.enabled", "false");
      factory.setJpaProperties(jpa);
      return factory;
    }

    @Primary
    @Bean
    public JpaTransactionManager transactionManager(EntityManagerFactory entityManagerFactory) {
      return new JpaTransactionManager(entityManagerFactory);
    }

    @Bean
    public RestfulServer restfulServer(
        IFhirSystemDao<?, ?> systemDao,
        ResourceProviderFactory providers,
        JpaSystemProvider<?, ?> systemProvider) {
      RestfulServer server = new RestfulServer(systemDao.getContext());
      server.registerProviders(providers.createProviders());
      server.registerProvider(systemProvider);
      return server;
    }
  }
}
